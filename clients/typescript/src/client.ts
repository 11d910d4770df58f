// The livetokens client: a Connect-ES gRPC client of livetokens.v1.TokenService
// with the project's service config (retries, default deadline) applied and a
// request_id on every request.

import { randomUUID } from "node:crypto";
import { clone, create, isMessage } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
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
  /** Node's HTTP/2 session options, e.g. `ca` for a private CA. */
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
  // Our own session manager, so that close() can end the connection.
  const sessionManager = new Http2SessionManager(baseUrl, {}, options.nodeOptions);
  const transport = createGrpcTransport({
    baseUrl,
    sessionManager,
    // Connect applies the interceptors from last to first: the retry interceptor
    // goes first so that the caller's interceptors run once per attempt.
    interceptors: [createRetryInterceptor(serviceConfig, options.retry), ...(options.interceptors ?? [])],
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
