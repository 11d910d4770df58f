// The livetokens client: a Connect-ES gRPC client of livetokens.v1.TokenService
// with the project's service config (retries, default deadline) applied and a
// request_id on every request.

import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { clone, create, isMessage } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Interceptor } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type * as http2 from "node:http2";
import serviceConfigJson from "./gen/service_config.json" with { type: "json" };
import { TokenRequestSchema, TokenService } from "./gen/livetokens/v1/token_service_pb.js";
import type { Token, TokenRequest } from "./gen/livetokens/v1/token_service_pb.js";
import { createRetryInterceptor } from "./retry.js";
import type { RetryInterceptorOptions } from "./retry.js";
import { parseServiceConfig } from "./service_config.js";
import type { ServiceConfig } from "./service_config.js";

/** A TokenRequest, or the plain object that initialises one. */
export type TokenRequestInit = MessageInitShape<typeof TokenRequestSchema>;

/** How to reach livetokens. */
export interface LiveTokensClientOptions {
  /**
   * Plaintext HTTP/2 when `target` has no scheme. Default false: TLS, as in the
   * Python, Go and Java clients. Only for a server on loopback or behind a mesh
   * sidecar that adds mTLS.
   */
  readonly plaintext?: boolean;
  /** A PEM file of CA certificates to trust instead of Node's roots (a private CA). */
  readonly caFile?: string;
  /** A PEM client certificate (chain) to present: mutual TLS. Needs `keyFile`. */
  readonly certFile?: string;
  /** The PEM private key of `certFile`. */
  readonly keyFile?: string;
  /**
   * Sent as `authorization: Bearer <token>` on every call. A secret: only over TLS
   * (with `plaintext`, createLiveTokensClient throws).
   */
  readonly bearerToken?: string;
  /** Node's HTTP/2 session options, applied after the ones above (e.g. `servername`). */
  readonly nodeOptions?: http2.ClientSessionOptions | http2.SecureClientSessionOptions;
  /** Interceptors run around each attempt, inside the retry interceptor (auth headers, logging). */
  readonly interceptors?: readonly Interceptor[];
  /** The gRPC service config. Defaults to the project's `clients/service_config.json`. */
  readonly serviceConfig?: ServiceConfig;
  /** Test seams of the retry interceptor (sleep, jitter, clock). */
  readonly retry?: RetryInterceptorOptions;
}

/** Per-call options. */
export interface MintOptions {
  /**
   * The call's deadline in milliseconds. Capped by (and defaulting to) the service
   * config's `timeout` (10 s). Retries happen within it.
   */
  readonly timeoutMs?: number;
  /** Cancels the call. */
  readonly signal?: AbortSignal;
}

/** A client of livetokens.v1.TokenService. */
export interface LiveTokensClient {
  /**
   * Mints one ephemeral token. A request without `requestId` gets a fresh UUID4,
   * so that retries (the client's own, on UNAVAILABLE) mint at most one token.
   * The caller's request object is not modified.
   *
   * Rejects with a ConnectError; decode it with `errorDetails(err)`.
   */
  mintToken(request: TokenRequestInit, options?: MintOptions): Promise<Token>;
  /** Closes the HTTP/2 connection. Calls in flight fail. */
  close(): void;
}

/** The project's gRPC service config, as bundled in this package. */
export const defaultServiceConfig: ServiceConfig = parseServiceConfig(serviceConfigJson);

/**
 * Creates a client for the livetokens server at `target`: `host:port` (TLS unless
 * `plaintext` is set) or a URL such as `https://livetokens.internal:443`.
 */
export function createLiveTokensClient(target: string, options: LiveTokensClientOptions = {}): LiveTokensClient {
  const baseUrl = target.includes("://") ? target : `${options.plaintext === true ? "http" : "https"}://${target}`;
  const serviceConfig = options.serviceConfig ?? defaultServiceConfig;
  const auth = authInterceptors(baseUrl, options);
  // Our own session manager, so that close() can end the connection.
  const sessionManager = new Http2SessionManager(baseUrl, {}, { ...tlsFiles(baseUrl, options), ...options.nodeOptions });
  const transport = createGrpcTransport({
    baseUrl,
    sessionManager,
    // Connect applies the interceptors from last to first: the retry interceptor
    // goes first so that the others run once per attempt.
    interceptors: [
      createRetryInterceptor(serviceConfig, options.retry),
      tlsFailureAsUnavailable,
      ...auth,
      ...(options.interceptors ?? []),
    ],
  });
  const client = createClient(TokenService, transport);
  const configTimeoutMs = serviceConfig.methodConfig(TokenService.typeName, TokenService.method.mintToken.name).timeoutMs;

  return {
    async mintToken(request: TokenRequestInit, mintOptions: MintOptions = {}): Promise<Token> {
      const message = withRequestId(request);
      const timeoutMs = minDefined(mintOptions.timeoutMs, configTimeoutMs);
      return await client.mintToken(message, {
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
        ...(mintOptions.signal === undefined ? {} : { signal: mintOptions.signal }),
      });
    },
    close(): void {
      sessionManager.abort();
    },
  };
}

/** The `ca`, `cert` and `key` session options read from the files the options name. */
function tlsFiles(baseUrl: string, options: LiveTokensClientOptions): http2.SecureClientSessionOptions {
  const files = options.caFile !== undefined || options.certFile !== undefined || options.keyFile !== undefined;
  if (files && baseUrl.startsWith("http:")) {
    throw new Error("livetokens: caFile, certFile and keyFile need TLS, not plaintext");
  }
  if ((options.certFile === undefined) !== (options.keyFile === undefined)) {
    throw new Error("livetokens: certFile and keyFile go together (mutual TLS)");
  }
  return {
    ...(options.caFile === undefined ? {} : { ca: readFileSync(options.caFile) }),
    ...(options.certFile === undefined ? {} : { cert: readFileSync(options.certFile) }),
    ...(options.keyFile === undefined ? {} : { key: readFileSync(options.keyFile) }),
  };
}

/** The interceptor that sends the bearer token, if any. */
function authInterceptors(baseUrl: string, options: LiveTokensClientOptions): Interceptor[] {
  const token = options.bearerToken;
  if (token === undefined) {
    return [];
  }
  if (baseUrl.startsWith("http:")) {
    throw new Error("livetokens: bearerToken needs TLS: the token would travel in plaintext");
  }
  return [
    (next) => async (req) => {
      req.header.set("authorization", `Bearer ${token}`);
      return await next(req);
    },
  ];
}

// Node's codes for a failed TLS handshake: the server's certificate not trusted or not
// for this name, the server refusing ours, or a peer that does not speak TLS.
const TLS_FAILURE = /^(ERR_SSL_|ERR_TLS_|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO_SELF_SIGNED|CERT_|HOSTNAME_MISMATCH)/;

/**
 * Connect reports a failed TLS handshake as INTERNAL; gRPC (and the Python, Go and
 * Java clients) report it as UNAVAILABLE, a connection that could not be made. This
 * interceptor makes it UNAVAILABLE here too, inside the retry interceptor, so that it
 * is retried like any other connection failure.
 */
export const tlsFailureAsUnavailable: Interceptor = (next) => async (req) => {
  try {
    return await next(req);
  } catch (err) {
    const cause: unknown = err instanceof ConnectError ? err.cause : undefined;
    const code: unknown = cause instanceof Error ? (cause as NodeJS.ErrnoException).code : undefined;
    if (err instanceof ConnectError && err.code === Code.Internal && typeof code === "string" && TLS_FAILURE.test(code)) {
      throw new ConnectError(`TLS handshake failed (${code}): ${err.rawMessage}`, Code.Unavailable, undefined, undefined, cause);
    }
    throw err;
  }
};

/** Returns a copy of the request whose `requestId` is set: the caller's, or a fresh UUID4. */
export function withRequestId(request: TokenRequestInit): TokenRequest {
  const message = isMessage(request, TokenRequestSchema) ? clone(TokenRequestSchema, request) : create(TokenRequestSchema, request);
  if (message.requestId === "") {
    message.requestId = randomUUID();
  }
  return message;
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) {
    return b;
  }
  return b === undefined ? a : Math.min(a, b);
}
