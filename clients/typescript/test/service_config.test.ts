// Parsing of the gRPC service config, and what the bundled copy of
// clients/service_config.json says.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { Code } from "@connectrpc/connect";
import { defaultServiceConfig } from "../src/client.js";
import { parseDurationMs, parseServiceConfig } from "../src/service_config.js";

const retryPolicy = {
  maxAttempts: 3,
  initialBackoff: "0.2s",
  maxBackoff: "2s",
  backoffMultiplier: 2,
  retryableStatusCodes: ["UNAVAILABLE"],
};

describe("service config", () => {
  test("the bundled config gives MintToken a 10 s timeout and retries of UNAVAILABLE only, 3 attempts, 0.2 s x2 up to 2 s", () => {
    const mc = defaultServiceConfig.methodConfig("livetokens.v1.TokenService", "MintToken");
    assert.equal(mc.timeoutMs, 10_000);
    assert.deepEqual(mc.retryPolicy, {
      maxAttempts: 3,
      initialBackoffMs: 200,
      maxBackoffMs: 2000,
      backoffMultiplier: 2,
      retryableCodes: new Set([Code.Unavailable]),
    });
  });

  test("the bundled copy is byte-identical to clients/service_config.json", () => {
    const root = new URL("../../", import.meta.url);
    const copy = readFileSync(new URL("src/gen/service_config.json", root));
    const original = readFileSync(new URL("../service_config.json", root));
    assert.ok(copy.equals(original), "run `make generate` to refresh src/gen/service_config.json");
  });

  test("a method matches its exact name first, then its service, then the default", () => {
    const config = parseServiceConfig({
      methodConfig: [
        { name: [{}], timeout: "1s" },
        { name: [{ service: "a.S" }], timeout: "2s" },
        { name: [{ service: "a.S", method: "M" }], timeout: "3s" },
      ],
    });
    assert.equal(config.methodConfig("a.S", "M").timeoutMs, 3000);
    assert.equal(config.methodConfig("a.S", "N").timeoutMs, 2000);
    assert.equal(config.methodConfig("b.T", "M").timeoutMs, 1000);
    assert.deepEqual(parseServiceConfig("{}").methodConfig("a.S", "M"), {});
  });

  test("a hedging policy is refused: livetokens clients never hedge", () => {
    assert.throws(
      () => parseServiceConfig({ methodConfig: [{ name: [{ service: "a.S" }], hedgingPolicy: { maxAttempts: 2 } }] }),
      /never hedge/,
    );
  });

  test("retry throttling is refused rather than ignored", () => {
    assert.throws(() => parseServiceConfig({ retryThrottling: { maxTokens: 10, tokenRatio: 0.1 } }), /retryThrottling/);
  });

  test("malformed retry policies are refused with the offending path", () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ maxAttempts: 1 }, /maxAttempts/],
      [{ initialBackoff: "200ms" }, /initialBackoff/],
      [{ maxBackoff: "0s" }, /more than 0/],
      [{ backoffMultiplier: 0 }, /backoffMultiplier/],
      [{ retryableStatusCodes: [] }, /retryableStatusCodes/],
      [{ retryableStatusCodes: ["OK"] }, /not a gRPC status code/],
      [{ retryableStatusCodes: ["UNAVAILABLE", "NOPE"] }, /"NOPE"/],
    ];
    for (const [patch, message] of bad) {
      assert.throws(
        () => parseServiceConfig({ methodConfig: [{ name: [{}], retryPolicy: { ...retryPolicy, ...patch } }] }),
        (e: Error) => message.test(e.message) && e.message.includes("methodConfig[0].retryPolicy"),
        JSON.stringify(patch),
      );
    }
  });

  test("status codes are taken by name in any case, or by number; CANCELLED is Connect's Canceled", () => {
    const config = parseServiceConfig({
      methodConfig: [{ name: [{}], retryPolicy: { ...retryPolicy, retryableStatusCodes: ["cancelled", "ABORTED", 8] } }],
    });
    assert.deepEqual(
      config.methodConfig("x", "y").retryPolicy?.retryableCodes,
      new Set([Code.Canceled, Code.Aborted, Code.ResourceExhausted]),
    );
  });

  test("durations are proto3 JSON seconds with up to nine fractional digits", () => {
    assert.equal(parseDurationMs("0.2s"), 200);
    assert.equal(parseDurationMs("10s"), 10_000);
    assert.equal(parseDurationMs("1.000000001s"), 1000);
    assert.throws(() => parseDurationMs("1m"), /not a duration/);
    assert.throws(() => parseDurationMs(5), /duration string/);
  });
});
