// The public surface of the livetokens TypeScript client.

export { createLiveTokensClient, defaultServiceConfig, tlsFailureAsUnavailable, withRequestId } from "./client.js";
export type { LiveTokensClient, LiveTokensClientOptions, MintOptions, TokenRequestInit } from "./client.js";
export { Code, errorDetails, parseReason, reasonName } from "./details.js";
export type { ErrorDetails, FieldViolation } from "./details.js";
export { createRetryInterceptor } from "./retry.js";
export type { RetryInterceptorOptions } from "./retry.js";
export { parseServiceConfig } from "./service_config.js";
export type { MethodConfig, RetryPolicy, ServiceConfig } from "./service_config.js";
export { expireTime, newSessionExpireTime, seconds, toDate } from "./time.js";
export { ConnectError } from "@connectrpc/connect";
export * from "./gen/livetokens/v1/live_config_pb.js";
export * from "./gen/livetokens/v1/token_service_pb.js";
