// The service config's retry policy as a Connect interceptor. Connect-ES has no
// gRPC service-config support, so this implements exactly gRFC A6's retry policy
// (https://github.com/grpc/proposal/blob/master/A6-client-retries.md) for unary
// calls: only the listed status codes are retried, at most maxAttempts attempts in
// all, a random backoff in [0, min(initialBackoff * multiplier^(n-1), maxBackoff)]
// before the n-th retry, server pushback (`grpc-retry-pushback-ms`) honoured, and
// never past the caller's deadline. There is no hedging.

import { ConnectError } from "@connectrpc/connect";
import type { Interceptor, UnaryRequest } from "@connectrpc/connect";
import type { ServiceConfig } from "./service_config.js";

/** Seams for tests; production code uses the defaults. */
export interface RetryInterceptorOptions {
  /** Waits `ms` milliseconds; rejects when `signal` aborts first. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** A number in [0, 1), for the backoff jitter. Defaults to Math.random. */
  readonly random?: () => number;
  /** The current time in milliseconds. Defaults to Date.now. */
  readonly now?: () => number;
}

const PUSHBACK_TRAILER = "grpc-retry-pushback-ms";

/**
 * Returns an interceptor that retries unary calls as the service config's
 * `retryPolicy` for the called method says. Methods without a retry policy, and
 * streaming calls, pass through untouched.
 *
 * A retry is skipped, and the last error returned, when the backoff would end
 * after the call's deadline (read from the `grpc-timeout` request header that
 * Connect sets from `timeoutMs`). Every retry sends the deadline that remains, not
 * the original one. The request message is sent unchanged on every attempt, so
 * its `request_id` makes the retries idempotent on the server.
 */
export function createRetryInterceptor(config: ServiceConfig, options: RetryInterceptorOptions = {}): Interceptor {
  const sleep = options.sleep ?? abortableSleep;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  return (next) => async (req) => {
    if (req.stream) {
      return await next(req);
    }
    const policy = config.methodConfig(req.service.typeName, req.method.name).retryPolicy;
    if (policy === undefined) {
      return await next(req);
    }
    const timeoutMs = parseGrpcTimeoutMs(req.header.get("grpc-timeout"));
    const deadline = timeoutMs === undefined ? undefined : now() + timeoutMs;
    let backoffBoundMs = Math.min(policy.initialBackoffMs, policy.maxBackoffMs);
    let attemptReq: UnaryRequest = req;
    for (let attempt = 1; ; attempt++) {
      try {
        return await next(attemptReq);
      } catch (e) {
        if (!(e instanceof ConnectError) || !policy.retryableCodes.has(e.code)) {
          throw e;
        }
        if (attempt >= policy.maxAttempts || req.signal.aborted) {
          throw e;
        }
        const pushback = parsePushback(e.metadata.get(PUSHBACK_TRAILER));
        if (pushback === "stop") {
          throw e;
        }
        let delayMs: number;
        if (pushback === undefined) {
          delayMs = random() * backoffBoundMs;
          backoffBoundMs = Math.min(backoffBoundMs * policy.backoffMultiplier, policy.maxBackoffMs);
        } else {
          delayMs = pushback;
          backoffBoundMs = Math.min(policy.initialBackoffMs, policy.maxBackoffMs);
        }
        if (deadline !== undefined && now() + delayMs >= deadline) {
          throw e;
        }
        await sleep(delayMs, req.signal);
        attemptReq = deadline === undefined ? req : withRemainingTimeout(req, deadline - now());
      }
    }
  };
}

/** Parses a `grpc-timeout` header value ("<digits><H|M|S|m|u|n>") into milliseconds. */
export function parseGrpcTimeoutMs(value: string | null): number | undefined {
  if (value === null) {
    return undefined;
  }
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (m === null) {
    return undefined;
  }
  const unitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };
  return Number(m[1]) * (unitMs[m[2] ?? "m"] ?? 1);
}

function withRemainingTimeout(req: UnaryRequest, remainingMs: number): UnaryRequest {
  const header = new Headers(req.header);
  const ms = Math.max(1, Math.ceil(remainingMs));
  header.set("grpc-timeout", ms <= 99_999_999 ? `${ms}m` : `${Math.ceil(ms / 1000)}S`);
  return { ...req, header };
}

// gRFC A6: a non-negative integer is the delay before the next attempt; anything
// else present means "do not retry".
function parsePushback(value: string | null): number | "stop" | undefined {
  if (value === null) {
    return undefined;
  }
  return /^\d+$/.test(value.trim()) ? Number(value.trim()) : "stop";
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(ConnectError.from(signal.reason));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(ConnectError.from(signal.reason));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
