// The retry interceptor against a scripted `next`: gRFC A6 as the service config
// sets it (retry only UNAVAILABLE, 3 attempts, backoff 0.2 s x2 up to 2 s), no network.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, isMessage } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import type { UnaryRequest, UnaryResponse } from "@connectrpc/connect";
import { defaultServiceConfig } from "../src/client.js";
import { TokenRequestSchema, TokenSchema, TokenService } from "../src/gen/livetokens/v1/token_service_pb.js";
import { createRetryInterceptor, parseGrpcTimeoutMs } from "../src/retry.js";
import type { RetryInterceptorOptions } from "../src/retry.js";
import { parseServiceConfig } from "../src/service_config.js";
import type { ServiceConfig } from "../src/service_config.js";

type Outcome = "ok" | ConnectError | Error;

interface Run {
  /** The attempts `next` saw, in order. */
  readonly attempts: UnaryRequest[];
  /** The delays the interceptor slept, in ms. */
  readonly sleeps: number[];
  /** What the interceptor returned or threw. */
  readonly result: UnaryResponse | unknown;
  readonly threw: boolean;
}

function request(header: Record<string, string> = { "grpc-timeout": "10000m" }, signal = new AbortController().signal): UnaryRequest {
  return {
    stream: false,
    service: TokenService,
    method: TokenService.method.mintToken,
    requestMethod: "POST",
    url: "http://127.0.0.1:1/livetokens.v1.TokenService/MintToken",
    signal,
    header: new Headers(header),
    contextValues: createContextValues(),
    message: create(TokenRequestSchema, { requestId: "6f1c8a52-4a8e-4d0b-9a55-0b0c3a8f4f1e" }),
  } as UnaryRequest;
}

/** Runs one call through the interceptor; `next` plays `outcomes` in order; the clock advances only when the interceptor sleeps. */
async function run(
  outcomes: readonly Outcome[],
  opts: { config?: ServiceConfig; req?: UnaryRequest; random?: number } = {},
): Promise<Run> {
  const attempts: UnaryRequest[] = [];
  const sleeps: number[] = [];
  let clock = 0;
  const seams: RetryInterceptorOptions = {
    random: () => opts.random ?? 1, // the top of the jitter range, so that delays are exact
    now: () => clock,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
  };
  const next = async (req: UnaryRequest): Promise<UnaryResponse> => {
    attempts.push(req);
    const outcome = outcomes[Math.min(attempts.length - 1, outcomes.length - 1)];
    if (outcome !== "ok") {
      throw outcome;
    }
    return {
      stream: false,
      service: TokenService,
      method: TokenService.method.mintToken,
      header: new Headers(),
      trailer: new Headers(),
      message: create(TokenSchema, { fingerprint: `hmac-sha256:${attempts.length}` }),
    } as UnaryResponse;
  };
  const intercepted = createRetryInterceptor(opts.config ?? defaultServiceConfig, seams)(next as never) as (
    r: UnaryRequest,
  ) => Promise<UnaryResponse>;
  try {
    return { attempts, sleeps, result: await intercepted(opts.req ?? request()), threw: false };
  } catch (e) {
    return { attempts, sleeps, result: e, threw: true };
  }
}

const unavailable = (): ConnectError => new ConnectError("upstream down", Code.Unavailable);

describe("retry interceptor", () => {
  test("UNAVAILABLE twice then OK: three attempts, and the third one's answer is returned", async () => {
    const r = await run([unavailable(), unavailable(), "ok"]);
    assert.equal(r.threw, false);
    assert.equal(r.attempts.length, 3);
    const message = (r.result as UnaryResponse).message;
    assert.ok(isMessage(message, TokenSchema));
    assert.equal(message.fingerprint, "hmac-sha256:3");
  });

  test("every attempt sends the same request message, hence the same request_id", async () => {
    const r = await run([unavailable(), unavailable(), "ok"]);
    const ids = r.attempts.map((a) => (isMessage(a.message, TokenRequestSchema) ? a.message.requestId : "not a TokenRequest"));
    assert.deepEqual(ids, Array(3).fill("6f1c8a52-4a8e-4d0b-9a55-0b0c3a8f4f1e"));
  });

  test("UNAVAILABLE every time: exactly maxAttempts (3) attempts, then the last UNAVAILABLE", async () => {
    const last = unavailable();
    const r = await run([unavailable(), unavailable(), last]);
    assert.equal(r.threw, true);
    assert.equal(r.attempts.length, 3);
    assert.equal(r.result, last);
  });

  for (const code of [
    Code.InvalidArgument,
    Code.DeadlineExceeded,
    Code.ResourceExhausted,
    Code.FailedPrecondition,
    Code.Internal,
    Code.Unknown,
    Code.Aborted,
  ]) {
    test(`${Code[code]} is not retried`, async () => {
      const err = new ConnectError("no", code);
      const r = await run([err, "ok"]);
      assert.equal(r.attempts.length, 1);
      assert.equal(r.result, err);
    });
  }

  test("an error that is not a ConnectError is rethrown as is, without a retry", async () => {
    const err = new TypeError("bug");
    const r = await run([err, "ok"]);
    assert.equal(r.attempts.length, 1);
    assert.equal(r.result, err);
  });

  test("backoff n is drawn from [0, min(0.2 s * 2^(n-1), 2 s)]: the top of the range at random 1", async () => {
    const r = await run([unavailable(), unavailable(), "ok"]);
    assert.deepEqual(r.sleeps, [200, 400]);
  });

  test("backoff is jittered: random 0.25 sleeps a quarter of the bound", async () => {
    const r = await run([unavailable(), unavailable(), "ok"], { random: 0.25 });
    assert.deepEqual(r.sleeps, [50, 100]);
  });

  test("backoff is capped at maxBackoff", async () => {
    const config = parseServiceConfig({
      methodConfig: [
        {
          name: [{ service: "livetokens.v1.TokenService" }],
          retryPolicy: {
            maxAttempts: 4,
            initialBackoff: "1s",
            maxBackoff: "1.5s",
            backoffMultiplier: 2,
            retryableStatusCodes: ["UNAVAILABLE"],
          },
        },
      ],
    });
    const r = await run([unavailable()], { config, req: request({ "grpc-timeout": "1M" }) });
    assert.equal(r.attempts.length, 4);
    assert.deepEqual(r.sleeps, [1000, 1500, 1500]);
  });

  test("maxAttempts above 5 is capped at 5, as in gRPC", async () => {
    const config = parseServiceConfig({
      methodConfig: [
        {
          name: [{}],
          retryPolicy: {
            maxAttempts: 10,
            initialBackoff: "0.001s",
            maxBackoff: "0.001s",
            backoffMultiplier: 1,
            retryableStatusCodes: [14],
          },
        },
      ],
    });
    const r = await run([unavailable()], { config });
    assert.equal(r.attempts.length, 5);
  });

  test("no retry when the backoff would end after the deadline: the UNAVAILABLE is returned at once", async () => {
    const err = unavailable();
    const r = await run([err, "ok"], { req: request({ "grpc-timeout": "150m" }) });
    assert.equal(r.attempts.length, 1);
    assert.deepEqual(r.sleeps, []);
    assert.equal(r.result, err);
  });

  test("each retry sends the deadline that remains in grpc-timeout", async () => {
    const r = await run([unavailable(), unavailable(), "ok"], { req: request({ "grpc-timeout": "1000m" }) });
    assert.deepEqual(
      r.attempts.map((a) => a.header.get("grpc-timeout")),
      ["1000m", "800m", "400m"],
    );
  });

  test("a call without a deadline is retried too", async () => {
    const r = await run([unavailable(), "ok"], { req: request({}) });
    assert.equal(r.attempts.length, 2);
    assert.equal(r.attempts[1]?.header.has("grpc-timeout"), false);
  });

  test("server pushback grpc-retry-pushback-ms sets the delay", async () => {
    const err = new ConnectError("busy", Code.Unavailable, { "grpc-retry-pushback-ms": "75" });
    const r = await run([err, "ok"]);
    assert.equal(r.attempts.length, 2);
    assert.deepEqual(r.sleeps, [75]);
  });

  test("a negative server pushback means do not retry", async () => {
    const err = new ConnectError("go away", Code.Unavailable, { "grpc-retry-pushback-ms": "-1" });
    const r = await run([err, "ok"]);
    assert.equal(r.attempts.length, 1);
    assert.equal(r.result, err);
  });

  test("a cancelled call is not retried", async () => {
    const ac = new AbortController();
    ac.abort();
    const r = await run([unavailable(), "ok"], { req: request(undefined, ac.signal) });
    assert.equal(r.attempts.length, 1);
  });

  test("a method the config does not name is not retried", async () => {
    const config = parseServiceConfig({
      methodConfig: [
        {
          name: [{ service: "livetokens.v1.TokenService", method: "Other" }],
          retryPolicy: {
            maxAttempts: 3,
            initialBackoff: "0.1s",
            maxBackoff: "1s",
            backoffMultiplier: 2,
            retryableStatusCodes: ["UNAVAILABLE"],
          },
        },
      ],
    });
    const r = await run([unavailable(), "ok"], { config });
    assert.equal(r.attempts.length, 1);
  });
});

describe("grpc-timeout parsing", () => {
  test("every unit converts to milliseconds; junk is no deadline", () => {
    assert.equal(parseGrpcTimeoutMs("2H"), 7_200_000);
    assert.equal(parseGrpcTimeoutMs("3M"), 180_000);
    assert.equal(parseGrpcTimeoutMs("10S"), 10_000);
    assert.equal(parseGrpcTimeoutMs("500m"), 500);
    assert.equal(parseGrpcTimeoutMs("2000u"), 2);
    assert.equal(parseGrpcTimeoutMs("3000000n"), 3);
    assert.equal(parseGrpcTimeoutMs(null), undefined);
    assert.equal(parseGrpcTimeoutMs("5x"), undefined);
    assert.equal(parseGrpcTimeoutMs("123456789m"), undefined);
  });
});
