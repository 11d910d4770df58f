// Durations and timestamps in JavaScript's own terms: numbers of seconds and Dates,
// so that callers never build a google.protobuf.Duration (whose seconds are a
// bigint) or read a Timestamp by hand.

import { create } from "@bufbuild/protobuf";
import { DurationSchema, timestampDate } from "@bufbuild/protobuf/wkt";
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import type { Token } from "./gen/livetokens/v1/token_service_pb.js";

/**
 * A Duration of `seconds` (fractions allowed, to the nanosecond), for
 * `TokenRequest.lifetime` and `newSessionWindow`: `lifetime: seconds(10 * 60)`.
 */
export function seconds(value: number): Duration {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`seconds(${value}): a duration is a finite number of seconds, 0 or more`);
  }
  const whole = Math.floor(value);
  return create(DurationSchema, { seconds: BigInt(whole), nanos: Math.round((value - whole) * 1e9) });
}

/** A Timestamp as a Date (millisecond precision); throws when it is unset. */
export function toDate(timestamp: Timestamp | undefined): Date {
  if (timestamp === undefined) {
    throw new TypeError("the timestamp is unset");
  }
  return timestampDate(timestamp);
}

/** When the token stops working (`Token.expire_time`, always set by livetokens). */
export function expireTime(token: Token): Date {
  return toDate(token.expireTime);
}

/** The last moment the token can start a new Live session (`Token.new_session_expire_time`). */
export function newSessionExpireTime(token: Token): Date {
  return toDate(token.newSessionExpireTime);
}
