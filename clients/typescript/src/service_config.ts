// The gRPC service config (https://github.com/grpc/grpc/blob/master/doc/service_config.md),
// the subset livetokens uses. Connect-ES has no service-config support, so this
// module parses `clients/service_config.json` (copied to src/gen/ by `make
// generate`) and the retry interceptor and the client apply it.

import { Code } from "@connectrpc/connect";

/** A gRPC retry policy (gRFC A6), with durations in milliseconds. */
export interface RetryPolicy {
  /** Attempts in total, the first one included: 2 to 5 (larger values are capped at 5, as in gRPC). */
  readonly maxAttempts: number;
  /** Upper bound of the random delay before the first retry. */
  readonly initialBackoffMs: number;
  /** Upper bound of every backoff. */
  readonly maxBackoffMs: number;
  /** Growth of the backoff bound from one retry to the next. */
  readonly backoffMultiplier: number;
  /** The status codes that are retried; any other code fails the call at once. */
  readonly retryableCodes: ReadonlySet<Code>;
}

/** What the service config says about one method. */
export interface MethodConfig {
  /** The default (and maximum) deadline of a call, in milliseconds. */
  readonly timeoutMs?: number;
  /** Transparent retries; undefined means no retries. */
  readonly retryPolicy?: RetryPolicy;
}

/** A parsed service config: the method configs by name. */
export interface ServiceConfig {
  /**
   * Returns the config that applies to `service/method`: an exact match, else the
   * service's default, else the config's default (an empty name), else `{}`.
   */
  methodConfig(service: string, method: string): MethodConfig;
}

// gRPC caps maxAttempts at 5 whatever the config says (gRFC A6).
const MAX_ATTEMPTS_CAP = 5;

/**
 * Parses a gRPC service config given as JSON text or as the parsed JSON value.
 *
 * Throws on anything malformed, and on `hedgingPolicy` or `retryThrottling`, which
 * this client does not implement: livetokens never hedges (a hedged MintToken
 * could mint two tokens), and silently ignoring a policy would be worse than
 * refusing it.
 */
export function parseServiceConfig(input: string | unknown): ServiceConfig {
  const root = asObject(typeof input === "string" ? JSON.parse(input) : input, "service config");
  if ("retryThrottling" in root) {
    throw new Error("service config: retryThrottling is not supported by the livetokens TypeScript client");
  }
  const byName = new Map<string, MethodConfig>();
  const list = root["methodConfig"] ?? [];
  if (!Array.isArray(list)) {
    throw new Error("service config: methodConfig must be a list");
  }
  list.forEach((entry: unknown, i: number) => {
    const where = `methodConfig[${i}]`;
    const mc = asObject(entry, where);
    if ("hedgingPolicy" in mc) {
      throw new Error(`service config: ${where}.hedgingPolicy: livetokens clients never hedge`);
    }
    const config: { timeoutMs?: number; retryPolicy?: RetryPolicy } = {};
    if (mc["timeout"] !== undefined) {
      config.timeoutMs = parseDurationMs(mc["timeout"], `${where}.timeout`);
    }
    if (mc["retryPolicy"] !== undefined) {
      config.retryPolicy = parseRetryPolicy(mc["retryPolicy"], `${where}.retryPolicy`);
    }
    const names = mc["name"] ?? [];
    if (!Array.isArray(names)) {
      throw new Error(`service config: ${where}.name must be a list`);
    }
    names.forEach((n: unknown, j: number) => {
      const name = asObject(n, `${where}.name[${j}]`);
      const service = optionalString(name["service"], `${where}.name[${j}].service`);
      const method = optionalString(name["method"], `${where}.name[${j}].method`);
      if (method !== "" && service === "") {
        throw new Error(`service config: ${where}.name[${j}] names a method without a service`);
      }
      const key = `${service}/${method}`;
      if (byName.has(key)) {
        throw new Error(`service config: ${where}.name[${j}] duplicates ${key}`);
      }
      byName.set(key, config);
    });
  });
  return {
    methodConfig(service: string, method: string): MethodConfig {
      return byName.get(`${service}/${method}`) ?? byName.get(`${service}/`) ?? byName.get("/") ?? {};
    },
  };
}

function parseRetryPolicy(value: unknown, where: string): RetryPolicy {
  const rp = asObject(value, where);
  const maxAttempts = rp["maxAttempts"];
  if (typeof maxAttempts !== "number" || !Number.isInteger(maxAttempts) || maxAttempts < 2) {
    throw new Error(`service config: ${where}.maxAttempts must be an integer of 2 or more`);
  }
  const initialBackoffMs = parseDurationMs(rp["initialBackoff"], `${where}.initialBackoff`);
  const maxBackoffMs = parseDurationMs(rp["maxBackoff"], `${where}.maxBackoff`);
  if (initialBackoffMs <= 0 || maxBackoffMs <= 0) {
    throw new Error(`service config: ${where}: initialBackoff and maxBackoff must be more than 0`);
  }
  const backoffMultiplier = rp["backoffMultiplier"];
  if (typeof backoffMultiplier !== "number" || !(backoffMultiplier > 0)) {
    throw new Error(`service config: ${where}.backoffMultiplier must be a number more than 0`);
  }
  const codes = rp["retryableStatusCodes"];
  if (!Array.isArray(codes) || codes.length === 0) {
    throw new Error(`service config: ${where}.retryableStatusCodes must be a non-empty list`);
  }
  const retryableCodes = new Set(codes.map((c: unknown) => parseCode(c, `${where}.retryableStatusCodes`)));
  return {
    maxAttempts: Math.min(maxAttempts, MAX_ATTEMPTS_CAP),
    initialBackoffMs,
    maxBackoffMs,
    backoffMultiplier,
    retryableCodes,
  };
}

/** Parses a proto3 JSON Duration such as "0.2s" or "10s" into milliseconds. */
export function parseDurationMs(value: unknown, where = "duration"): number {
  if (typeof value !== "string") {
    throw new Error(`service config: ${where} must be a duration string such as "0.2s"`);
  }
  const m = /^(\d+)(?:\.(\d{1,9}))?s$/.exec(value);
  if (m === null) {
    throw new Error(`service config: ${where}: ${JSON.stringify(value)} is not a duration such as "0.2s"`);
  }
  const seconds = Number(m[1]);
  const fraction = Number(`0.${m[2] ?? "0"}`);
  return seconds * 1000 + Math.round(fraction * 1000);
}

// gRPC status code names as the service config spells them, to Connect's Code
// (whose numbers are the gRPC numbers).
const CODES_BY_NAME: ReadonlyMap<string, Code> = new Map([
  ["CANCELLED", Code.Canceled],
  ["UNKNOWN", Code.Unknown],
  ["INVALID_ARGUMENT", Code.InvalidArgument],
  ["DEADLINE_EXCEEDED", Code.DeadlineExceeded],
  ["NOT_FOUND", Code.NotFound],
  ["ALREADY_EXISTS", Code.AlreadyExists],
  ["PERMISSION_DENIED", Code.PermissionDenied],
  ["RESOURCE_EXHAUSTED", Code.ResourceExhausted],
  ["FAILED_PRECONDITION", Code.FailedPrecondition],
  ["ABORTED", Code.Aborted],
  ["OUT_OF_RANGE", Code.OutOfRange],
  ["UNIMPLEMENTED", Code.Unimplemented],
  ["INTERNAL", Code.Internal],
  ["UNAVAILABLE", Code.Unavailable],
  ["DATA_LOSS", Code.DataLoss],
  ["UNAUTHENTICATED", Code.Unauthenticated],
]);

function parseCode(value: unknown, where: string): Code {
  // gRPC allows the code's name (UPPER_SNAKE, any case) or its number.
  if (typeof value === "number" && [...CODES_BY_NAME.values()].includes(value)) {
    return value as Code;
  }
  if (typeof value === "string") {
    const code = CODES_BY_NAME.get(value.toUpperCase());
    if (code !== undefined) {
      return code;
    }
  }
  throw new Error(`service config: ${where}: ${JSON.stringify(value)} is not a gRPC status code other than OK`);
}

function asObject(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`service config: ${where} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

function optionalString(value: unknown, where: string): string {
  if (value === undefined) {
    return "";
  }
  if (typeof value !== "string") {
    throw new Error(`service config: ${where} must be a string`);
  }
  return value;
}
