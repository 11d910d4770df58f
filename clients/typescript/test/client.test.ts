// The client against a scripted gRPC server on 127.0.0.1:0: request_id
// defaulting, the service config's deadline and retries over a real HTTP/2 call.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Interceptor } from "@connectrpc/connect";
import { createLiveTokensClient, withRequestId } from "../src/client.js";
import type { LiveTokensClient } from "../src/client.js";
import { TokenRequestSchema } from "../src/gen/livetokens/v1/token_service_pb.js";
import { startFakeServer } from "./fake_server.js";
import type { FakeReply, FakeServer } from "./fake_server.js";

const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TOKEN: FakeReply = { token: { fingerprint: "hmac-sha256:00112233445566778899aabbccddeeff", uses: 1 } };
const UNAVAILABLE: FakeReply = { code: Code.Unavailable, message: "upstream unavailable" };

describe("withRequestId", () => {
  test("a request without request_id gets a fresh UUID4, and the caller's object is left as it was", () => {
    const init = { uses: 2 };
    const a = withRequestId(init);
    const b = withRequestId(init);
    assert.match(a.requestId, UUID4);
    assert.match(b.requestId, UUID4);
    assert.notEqual(a.requestId, b.requestId);
    assert.equal(a.uses, 2);
    assert.deepEqual(init, { uses: 2 });
  });

  test("a TokenRequest message is copied, not modified", () => {
    const message = create(TokenRequestSchema, { uses: 3 });
    const sent = withRequestId(message);
    assert.equal(message.requestId, "");
    assert.notEqual(sent, message);
    assert.match(sent.requestId, UUID4);
  });

  test("the caller's request_id is kept", () => {
    const id = "6f1c8a52-4a8e-4d0b-9a55-0b0c3a8f4f1e";
    assert.equal(withRequestId({ requestId: id }).requestId, id);
    assert.equal(withRequestId(create(TokenRequestSchema, { requestId: id })).requestId, id);
  });
});

describe("client over HTTP/2", () => {
  /** Runs `fn` with a client of a fresh fake server; closes both afterwards. */
  async function withServer(replies: readonly FakeReply[], fn: (server: FakeServer, client: LiveTokensClient) => Promise<void>): Promise<void> {
    const server = await startFakeServer(replies);
    // No real waiting between retries: the backoff itself is pinned in retry.test.ts.
    const client = createLiveTokensClient(server.target, { plaintext: true, retry: { sleep: async () => {} } });
    try {
      await fn(server, client);
    } finally {
      client.close();
      await server.close();
    }
  }

  test("mintToken calls /livetokens.v1.TokenService/MintToken with a UUID4 request_id and returns the Token", async () => {
    await withServer([TOKEN], async (server, client) => {
      const token = await client.mintToken({ constraints: { model: "gemini-live-2.5-flash-preview" } });
      assert.equal(token.fingerprint, "hmac-sha256:00112233445566778899aabbccddeeff");
      assert.equal(token.uses, 1);
      assert.equal(server.calls.length, 1);
      assert.equal(server.calls[0]?.path, "/livetokens.v1.TokenService/MintToken");
      assert.equal(server.calls[0]?.request.constraints?.model, "gemini-live-2.5-flash-preview");
      assert.match(server.calls[0]?.request.requestId ?? "", UUID4);
    });
  });

  test("UNAVAILABLE twice then a Token: three attempts, all with the same request_id", async () => {
    await withServer([UNAVAILABLE, UNAVAILABLE, TOKEN], async (server, client) => {
      const token = await client.mintToken({});
      assert.equal(token.uses, 1);
      const ids = server.calls.map((c) => c.request.requestId);
      assert.equal(ids.length, 3);
      assert.match(ids[0] ?? "", UUID4);
      assert.deepEqual(new Set(ids).size, 1);
    });
  });

  test("UNAVAILABLE every time: three attempts, then UNAVAILABLE reaches the caller", async () => {
    await withServer([UNAVAILABLE], async (server, client) => {
      await assert.rejects(client.mintToken({}), (e: unknown) => e instanceof ConnectError && e.code === Code.Unavailable);
      assert.equal(server.calls.length, 3);
    });
  });

  test("INVALID_ARGUMENT is not retried", async () => {
    await withServer([{ code: Code.InvalidArgument, message: "bad" }, TOKEN], async (server, client) => {
      await assert.rejects(client.mintToken({}), (e: unknown) => e instanceof ConnectError && e.code === Code.InvalidArgument);
      assert.equal(server.calls.length, 1);
    });
  });

  test("the deadline defaults to the service config's 10 s and is capped by it", async () => {
    await withServer([TOKEN], async (server, client) => {
      await client.mintToken({});
      await client.mintToken({}, { timeoutMs: 500 });
      await client.mintToken({}, { timeoutMs: 60_000 });
      assert.deepEqual(
        server.calls.map((c) => c.grpcTimeout),
        ["10000m", "500m", "10000m"],
      );
    });
  });

  test("an unreachable server fails UNAVAILABLE after three attempts; the caller's interceptors see each attempt", async () => {
    const closed = await startFakeServer([TOKEN]);
    await closed.close();
    let attempts = 0;
    const counter: Interceptor = (next) => async (req) => {
      attempts++;
      return await next(req);
    };
    const client = createLiveTokensClient(closed.target, { plaintext: true, interceptors: [counter], retry: { sleep: async () => {} } });
    try {
      await assert.rejects(client.mintToken({}), (e: unknown) => e instanceof ConnectError && e.code === Code.Unavailable);
      assert.equal(attempts, 3);
    } finally {
      client.close();
    }
  });
});
