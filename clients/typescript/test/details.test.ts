// errorDetails decodes google.rpc details from a grpc-status-details-bin trailer
// built by hand (see fake_server.ts) into plain fields.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { createLiveTokensClient } from "../src/client.js";
import type { LiveTokensClient } from "../src/client.js";
import { errorDetails } from "../src/details.js";
import { ErrorReason } from "../src/index.js";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  QuotaFailureSchema,
  RetryInfoSchema,
} from "../src/gen/google/rpc/error_details_pb.js";
import { startFakeServer } from "./fake_server.js";
import type { FakeReply, FakeServer } from "./fake_server.js";

const DOMAIN = "livetokens.v1.TokenService";

async function failWith(reply: FakeReply): Promise<{ err: unknown; calls: number }> {
  const server: FakeServer = await startFakeServer([reply]);
  const client: LiveTokensClient = createLiveTokensClient(server.target, { plaintext: true, retry: { sleep: async () => {} } });
  try {
    await client.mintToken({});
    assert.fail("mintToken should have failed");
  } catch (err) {
    return { err, calls: server.calls.length };
  } finally {
    client.close();
    await server.close();
  }
}

describe("errorDetails", () => {
  test("INVALID_ARGUMENT: code, reason, domain, metadata and every field violation in order", async () => {
    const { err } = await failWith({
      code: Code.InvalidArgument,
      message: "the request is invalid",
      status: {
        code: Code.InvalidArgument,
        message: "the request is invalid",
        details: [
          anyPack(ErrorInfoSchema, create(ErrorInfoSchema, { reason: "INVALID_REQUEST", domain: DOMAIN, metadata: { fieldCount: "2" } })),
          anyPack(
            BadRequestSchema,
            create(BadRequestSchema, {
              fieldViolations: [
                { field: "constraints.config.temperature", description: "must be between 0.0 and 2.0", reason: "OUT_OF_RANGE" },
                { field: "constraints.config.tools[0].function_declarations[1].name", description: "must not be empty" },
              ],
            }),
          ),
        ],
      },
    });
    assert.deepEqual(errorDetails(err), {
      code: Code.InvalidArgument,
      message: "the request is invalid",
      reason: "INVALID_REQUEST",
      errorReason: ErrorReason.INVALID_REQUEST,
      domain: DOMAIN,
      metadata: { fieldCount: "2" },
      fieldViolations: [
        { field: "constraints.config.temperature", description: "must be between 0.0 and 2.0", reason: "OUT_OF_RANGE" },
        { field: "constraints.config.tools[0].function_declarations[1].name", description: "must not be empty", reason: "" },
      ],
      retryDelayMs: undefined,
    });
  });

  test("RESOURCE_EXHAUSTED: RetryInfo's delay in ms, QuotaFailure ignored, and no retry by the client", async () => {
    const { err, calls } = await failWith({
      code: Code.ResourceExhausted,
      message: "rate limited",
      status: {
        code: Code.ResourceExhausted,
        message: "rate limited",
        details: [
          anyPack(QuotaFailureSchema, create(QuotaFailureSchema, { violations: [{ subject: "project" }] })),
          anyPack(RetryInfoSchema, create(RetryInfoSchema, { retryDelay: { seconds: 2n, nanos: 500_000_000 } })),
          anyPack(ErrorInfoSchema, create(ErrorInfoSchema, { reason: "UPSTREAM_RATE_LIMITED", domain: DOMAIN })),
        ],
      },
    });
    const d = errorDetails(err);
    assert.equal(d.code, Code.ResourceExhausted);
    assert.equal(d.reason, "UPSTREAM_RATE_LIMITED");
    assert.equal(d.retryDelayMs, 2500);
    assert.deepEqual(d.fieldViolations, []);
    assert.equal(calls, 1);
  });

  test("an error without a details trailer decodes to its code and message with empty details", async () => {
    const { err } = await failWith({ code: Code.Internal, message: "internal error" });
    assert.deepEqual(errorDetails(err), {
      code: Code.Internal,
      message: "internal error",
      reason: "",
      errorReason: ErrorReason.UNSPECIFIED,
      domain: "",
      metadata: {},
      fieldViolations: [],
      retryDelayMs: undefined,
    });
  });

  test("a ConnectError built in process decodes the same way", () => {
    const err = new ConnectError("denied", Code.PermissionDenied, undefined, [
      { desc: ErrorInfoSchema, value: { reason: "POLICY_DENIED", domain: DOMAIN, metadata: { rule: "max-uses" } } },
    ]);
    const d = errorDetails(err);
    assert.equal(d.reason, "POLICY_DENIED");
    assert.deepEqual(d.metadata, { rule: "max-uses" });
  });

  test("an error that is not a ConnectError decodes as UNKNOWN with empty details", () => {
    const d = errorDetails(new Error("boom"));
    assert.equal(d.code, Code.Unknown);
    assert.equal(d.reason, "");
    assert.deepEqual(d.fieldViolations, []);
  });
});
