// The contract scenario shared by every client language, against a live
// livetokens server. Run only through the harness, which sets the variables:
//   .venv/bin/python tools/with_livetokens.py -- node --test clients/typescript/build/contract/*.test.js
// Fails (does not skip) when LIVETOKENS_TARGET is unset.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import {
  Code,
  createLiveTokensClient,
  ErrorReason,
  errorDetails,
  expireTime,
  LockableField,
  LockMode,
  Modality,
  seconds,
} from "../src/index.js";
import type { LiveTokensClient, TokenRequestInit } from "../src/index.js";

const MODEL = "gemini-live-2.5-flash-preview";
const TOLERANCE_MS = 2 * 60_000;

/** The seed's constraints: audio, temperature 0.7, session resumption on. */
function seed(temperature = 0.7, model = MODEL): TokenRequestInit["constraints"] {
  return { model, config: { responseModalities: [Modality.AUDIO], temperature, sessionResumption: {} } };
}

function required(name: string): string {
  const value = process.env[name];
  assert.ok(value, `${name} is unset: run this suite through tools/with_livetokens.py (see client.mk)`);
  return value;
}

/** Asserts that `ts` is within ±2 min of now + `offsetMs` (a value check on what the server computed). */
function assertAbout(ts: Timestamp | undefined, offsetMs: number, what: string): void {
  assert.ok(ts, `${what} is unset`);
  const delta = timestampMs(ts) - (Date.now() + offsetMs);
  assert.ok(Math.abs(delta) <= TOLERANCE_MS, `${what} is ${Math.round(delta / 1000)} s off now + ${offsetMs / 60_000} min`);
}

describe("contract: livetokens.v1.TokenService/MintToken against a live server", () => {
  let client: LiveTokensClient;

  before(() => {
    client = createLiveTokensClient(required("LIVETOKENS_TARGET"), { plaintext: true });
  });
  after(() => client?.close());

  test("the seed's constraints without a lock mint a fully locked 1-use token for 30 min", async () => {
    const token = await client.mintToken({ constraints: seed() });
    // Messages never print token.name: it is a secret.
    assert.ok(token.name.startsWith("auth_tokens/"), "name does not start with auth_tokens/");
    assertAbout(token.expireTime, 30 * 60_000, "expire_time");
    assertAbout(token.newSessionExpireTime, 60_000, "new_session_expire_time");
    assert.equal(token.uses, 1);
    assert.equal(token.lock?.wholeSetup, true);
    assert.deepEqual(token.lock?.fieldPaths, []);
    assert.equal(token.model, `models/${MODEL}`);
    assert.ok(token.fingerprint.startsWith("hmac-sha256:"), `fingerprint ${token.fingerprint}`);
    assert.ok(token.websocketUrl.endsWith("BidiGenerateContentConstrained"), `websocket_url ${token.websocketUrl}`);
    assert.equal(token.apiVersion, "v1alpha");
  });

  test("LOCK_MODE_SET_FIELDS locks the set fields and the additional ones, in the server's order", async () => {
    const token = await client.mintToken({
      constraints: seed(),
      lock: { mode: LockMode.SET_FIELDS, additionalFields: [LockableField.OUTPUT_AUDIO_TRANSCRIPTION] },
    });
    assert.equal(token.lock?.wholeSetup, false);
    assert.deepEqual(token.lock?.fieldPaths, [
      "model",
      "generationConfig.responseModalities",
      "generationConfig.temperature",
      "sessionResumption",
      "outputAudioTranscription",
    ]);
  });

  test("temperature 5.0 fails INVALID_ARGUMENT / INVALID_REQUEST naming constraints.config.temperature", async () => {
    const err = await client.mintToken({ constraints: seed(5.0) }).then(
      () => assert.fail("a temperature of 5.0 was accepted"),
      (e: unknown) => e,
    );
    const details = errorDetails(err);
    assert.equal(details.code, Code.InvalidArgument);
    assert.equal(details.reason, "INVALID_REQUEST");
    assert.equal(details.domain, "livetokens.v1.TokenService");
    assert.ok(
      details.fieldViolations.some((v) => v.field === "constraints.config.temperature"),
      `field violations: ${JSON.stringify(details.fieldViolations)}`,
    );
  });

  test("a 500 ms deadline on a slow upstream fails DEADLINE_EXCEEDED", async () => {
    const slowModel = required("LIVETOKENS_SLOW_MODEL");
    const err = await client.mintToken({ constraints: seed(0.7, slowModel) }, { timeoutMs: 500 }).then(
      () => assert.fail("the slow mint succeeded within 500 ms"),
      (e: unknown) => e,
    );
    assert.equal(errorDetails(err).code, Code.DeadlineExceeded);
  });

  test("the same request_id twice returns the same token", async () => {
    const request: TokenRequestInit = { constraints: seed(), requestId: randomUUID() };
    const first = await client.mintToken(request);
    const second = await client.mintToken(request);
    assert.ok(first.name === second.name, "the second call returned a different token name");
    assert.equal(second.fingerprint, first.fingerprint);
  });

  test("the README example mints a 10-minute token, prints no secret, and decodes uses = -1", async () => {
    const script = new URL("../examples/mint.js", import.meta.url);
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [script.pathname], { env: process.env });
    assert.equal(stderr, "");
    const match = stdout.match(
      /^name: auth_tokens\/\.\.\.\(redacted\)\nexpires: (\S+)\nfingerprint: hmac-sha256:[0-9a-f]{32}\nrejected: InvalidArgument INVALID_REQUEST\nviolation: uses: must be 0 or more, got -1\n$/,
    );
    assert.ok(match, `the example printed:\n${stdout}`);
    const offset = Date.parse(match[1] ?? "") - (Date.now() + 10 * 60_000);
    assert.ok(Math.abs(offset) <= TOLERANCE_MS, `expiry ${match[1]} is ${offset} ms off now + 10 min`);
  });
});

describe("contract: TLS, mutual TLS and bearer options against live secure servers", () => {
  test("caFile, certFile and keyFile mint from a server that requires client certificates", async () => {
    const client = createLiveTokensClient(required("LIVETOKENS_MTLS_TARGET"), {
      caFile: required("LIVETOKENS_CA_FILE"),
      certFile: required("LIVETOKENS_CLIENT_CERT"),
      keyFile: required("LIVETOKENS_CLIENT_KEY"),
    });
    try {
      const token = await client.mintToken({ constraints: seed(), lifetime: seconds(600) });
      assert.ok(token.fingerprint.startsWith("hmac-sha256:"), token.fingerprint);
      assertAbout(token.expireTime, 10 * 60_000, "expire_time");
      assert.ok(Math.abs(expireTime(token).getTime() - (Date.now() + 10 * 60_000)) <= TOLERANCE_MS);
    } finally {
      client.close();
    }
  });

  test("bearerToken over TLS mints; without it the error decodes as UNAUTHENTICATED", async () => {
    const target = required("LIVETOKENS_TLS_TARGET");
    const caFile = required("LIVETOKENS_CA_FILE");
    const withBearer = createLiveTokensClient(target, { caFile, bearerToken: required("LIVETOKENS_BEARER_TOKEN") });
    const without = createLiveTokensClient(target, { caFile });
    try {
      const token = await withBearer.mintToken({ constraints: seed() });
      assert.ok(token.fingerprint.startsWith("hmac-sha256:"), token.fingerprint);
      const err = await without.mintToken({ constraints: seed() }).then(
        () => assert.fail("a call without credentials minted"),
        (e: unknown) => e,
      );
      const details = errorDetails(err);
      assert.equal(details.code, Code.Unauthenticated);
      assert.equal(details.errorReason, ErrorReason.UNAUTHENTICATED);
    } finally {
      withBearer.close();
      without.close();
    }
  });

  test("a server certificate the client does not trust fails UNAVAILABLE, as in every client", async () => {
    const client = createLiveTokensClient(required("LIVETOKENS_TLS_TARGET"), {
      bearerToken: required("LIVETOKENS_BEARER_TOKEN"),
      retry: { sleep: async () => {} },
    });
    try {
      const err = await client.mintToken({ constraints: seed() }).then(
        () => assert.fail("minted over an untrusted certificate"),
        (e: unknown) => e,
      );
      const details = errorDetails(err);
      assert.equal(details.code, Code.Unavailable, details.message);
      assert.equal(details.errorReason, ErrorReason.UNSPECIFIED);
    } finally {
      client.close();
    }
  });
});
