// The client's own helpers: ErrorReason names, durations and dates, option checks.

import assert from "node:assert/strict";
import { test } from "node:test";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  createLiveTokensClient,
  ErrorReason,
  ErrorReasonSchema,
  expireTime,
  parseReason,
  reasonName,
  seconds,
  toDate,
} from "../src/index.js";
import { create } from "@bufbuild/protobuf";
import { TokenSchema } from "../src/index.js";

test("reasonName drops ERROR_REASON_ and parseReason adds it back, for every value", () => {
  for (const value of ErrorReasonSchema.values) {
    if (value.number === ErrorReason.UNSPECIFIED) {
      continue;
    }
    const wire = reasonName(value.number as ErrorReason);
    assert.equal(`ERROR_REASON_${wire}`, value.name);
    assert.equal(parseReason(wire), value.number);
  }
  assert.equal(reasonName(ErrorReason.INVALID_REQUEST), "INVALID_REQUEST");
  assert.equal(reasonName(ErrorReason.UNSPECIFIED), "");
  assert.equal(parseReason(""), ErrorReason.UNSPECIFIED);
  assert.equal(parseReason("NOT_A_REASON"), ErrorReason.UNSPECIFIED);
  assert.equal(parseReason("ERROR_REASON_INVALID_REQUEST"), ErrorReason.UNSPECIFIED);
});

test("seconds makes a Duration from a number of seconds, fractions to the nanosecond", () => {
  assert.deepEqual([seconds(600).seconds, seconds(600).nanos], [600n, 0]);
  assert.deepEqual([seconds(1.5).seconds, seconds(1.5).nanos], [1n, 500_000_000]);
  assert.throws(() => seconds(-1), RangeError);
  assert.throws(() => seconds(Number.NaN), RangeError);
});

test("expireTime and toDate read Timestamps as Dates; an unset one throws", () => {
  const when = new Date("2030-01-02T03:04:05.678Z");
  const token = create(TokenSchema, { expireTime: timestampFromDate(when) });
  assert.equal(expireTime(token).toISOString(), when.toISOString());
  assert.throws(() => toDate(undefined), TypeError);
});

test("contradictory TLS options are refused when the client is created", () => {
  assert.throws(() => createLiveTokensClient("127.0.0.1:1", { plaintext: true, bearerToken: "s3cret" }), /plaintext/);
  assert.throws(() => createLiveTokensClient("127.0.0.1:1", { plaintext: true, caFile: "ca.pem" }), /TLS/);
  assert.throws(() => createLiveTokensClient("127.0.0.1:1", { certFile: "me.pem" }), /keyFile/);
});
