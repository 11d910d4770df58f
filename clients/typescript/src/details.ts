// Error details from the `grpc-status-details-bin` trailer (a google.rpc.Status)
// in plain TypeScript form. Connect's gRPC transport parses the trailer into
// ConnectError.details; findDetails decodes the entries of one type.

import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "./gen/google/rpc/error_details_pb.js";
import { ErrorReason, ErrorReasonSchema } from "./gen/livetokens/v1/token_service_pb.js";

const REASON_PREFIX = "ERROR_REASON_";

/**
 * The `ErrorInfo.reason` string of an ErrorReason: the proto value name without
 * `ERROR_REASON_` (`ErrorReason.INVALID_REQUEST` → `"INVALID_REQUEST"`). "" for
 * UNSPECIFIED and for a number this client does not know.
 */
export function reasonName(reason: ErrorReason): string {
  if (reason === ErrorReason.UNSPECIFIED) {
    return "";
  }
  const value = ErrorReasonSchema.values.find((v) => v.number === reason);
  return value === undefined ? "" : value.name.slice(REASON_PREFIX.length);
}

/** The ErrorReason of an `ErrorInfo.reason` string; `ErrorReason.UNSPECIFIED` when empty or unknown. */
export function parseReason(reason: string): ErrorReason {
  const value = reason === "" ? undefined : ErrorReasonSchema.values.find((v) => v.name === REASON_PREFIX + reason);
  return value === undefined ? ErrorReason.UNSPECIFIED : (value.number as ErrorReason);
}

/** One violated field of a request, from `google.rpc.BadRequest`. */
export interface FieldViolation {
  /** The field path in snake_case, dot-separated, `[i]` for indexes (AIP-193), e.g. `constraints.config.temperature`. */
  readonly field: string;
  /** Why the value is wrong, for humans. */
  readonly description: string;
  /** A machine-readable reason for the violation; "" when the server sent none. */
  readonly reason: string;
}

/** What a livetokens error says, decoded. */
export interface ErrorDetails {
  /** The gRPC status code (Connect's Code enum; the numbers are gRPC's). */
  readonly code: Code;
  /** The status message, without Connect's "[code]" prefix. */
  readonly message: string;
  /** `google.rpc.ErrorInfo.reason`, UPPER_SNAKE (e.g. `INVALID_REQUEST`); "" when absent. */
  readonly reason: string;
  /**
   * `reason` as a constant to compare with, e.g. `ErrorReason.INVALID_REQUEST`;
   * `ErrorReason.UNSPECIFIED` without ErrorInfo (a client-side deadline, a failed
   * connection or TLS handshake) or for a reason newer than this client.
   */
  readonly errorReason: ErrorReason;
  /** `google.rpc.ErrorInfo.domain`, `livetokens.v1.TokenService` for livetokens' own errors; "" when absent. */
  readonly domain: string;
  /** `google.rpc.ErrorInfo.metadata` (e.g. `rule` for POLICY_DENIED). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Every `google.rpc.BadRequest` field violation, in order. */
  readonly fieldViolations: readonly FieldViolation[];
  /** `google.rpc.RetryInfo.retry_delay` in milliseconds; undefined when the error has none. */
  readonly retryDelayMs: number | undefined;
}

/**
 * Decodes the status code, ErrorInfo, BadRequest and RetryInfo of an error thrown
 * by the livetokens client. Any other error (not a ConnectError) yields code
 * Unknown and empty details.
 */
export function errorDetails(err: unknown): ErrorDetails {
  const e = err instanceof ConnectError ? err : ConnectError.from(err);
  const info = e.findDetails(ErrorInfoSchema)[0];
  const fieldViolations = e
    .findDetails(BadRequestSchema)
    .flatMap((br) => br.fieldViolations.map((v) => ({ field: v.field, description: v.description, reason: v.reason })));
  const delay = e.findDetails(RetryInfoSchema)[0]?.retryDelay;
  return {
    code: e.code,
    message: e.rawMessage,
    reason: info?.reason ?? "",
    errorReason: parseReason(info?.reason ?? ""),
    domain: info?.domain ?? "",
    metadata: { ...(info?.metadata ?? {}) },
    fieldViolations,
    retryDelayMs: delay === undefined ? undefined : Number(delay.seconds) * 1000 + Math.floor(delay.nanos / 1e6),
  };
}

export { Code };
