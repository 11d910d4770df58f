package com.livetokens.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * TokenService mints Gemini Live API ephemeral tokens for internal services.
 * A browser or mobile app must never hold the Gemini API key. A backend service
 * calls MintToken, livetokens decides whether that caller may mint that token,
 * asks Google for it (`POST /{version}/auth_tokens`) with the key it alone
 * holds, and returns the short-lived credential. The app uses `Token.name`
 * instead of the API key on the Live API WebSocket (`Token.websocket_url`).
 * </pre>
 */
@javax.annotation.Generated(
    value = "by gRPC proto compiler",
    comments = "Source: livetokens/v1/token_service.proto")
@io.grpc.stub.annotations.GrpcGenerated
public final class TokenServiceGrpc {

  private TokenServiceGrpc() {}

  public static final String SERVICE_NAME = "livetokens.v1.TokenService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<com.livetokens.v1.TokenRequest,
      com.livetokens.v1.Token> getMintTokenMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "MintToken",
      requestType = com.livetokens.v1.TokenRequest.class,
      responseType = com.livetokens.v1.Token.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<com.livetokens.v1.TokenRequest,
      com.livetokens.v1.Token> getMintTokenMethod() {
    io.grpc.MethodDescriptor<com.livetokens.v1.TokenRequest, com.livetokens.v1.Token> getMintTokenMethod;
    if ((getMintTokenMethod = TokenServiceGrpc.getMintTokenMethod) == null) {
      synchronized (TokenServiceGrpc.class) {
        if ((getMintTokenMethod = TokenServiceGrpc.getMintTokenMethod) == null) {
          TokenServiceGrpc.getMintTokenMethod = getMintTokenMethod =
              io.grpc.MethodDescriptor.<com.livetokens.v1.TokenRequest, com.livetokens.v1.Token>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "MintToken"))
              .setIdempotent(true)
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  com.livetokens.v1.TokenRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  com.livetokens.v1.Token.getDefaultInstance()))
              .setSchemaDescriptor(new TokenServiceMethodDescriptorSupplier("MintToken"))
              .build();
        }
      }
    }
    return getMintTokenMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static TokenServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<TokenServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<TokenServiceStub>() {
        @java.lang.Override
        public TokenServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new TokenServiceStub(channel, callOptions);
        }
      };
    return TokenServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static TokenServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<TokenServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<TokenServiceBlockingStub>() {
        @java.lang.Override
        public TokenServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new TokenServiceBlockingStub(channel, callOptions);
        }
      };
    return TokenServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static TokenServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<TokenServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<TokenServiceFutureStub>() {
        @java.lang.Override
        public TokenServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new TokenServiceFutureStub(channel, callOptions);
        }
      };
    return TokenServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * TokenService mints Gemini Live API ephemeral tokens for internal services.
   * A browser or mobile app must never hold the Gemini API key. A backend service
   * calls MintToken, livetokens decides whether that caller may mint that token,
   * asks Google for it (`POST /{version}/auth_tokens`) with the key it alone
   * holds, and returns the short-lived credential. The app uses `Token.name`
   * instead of the API key on the Live API WebSocket (`Token.websocket_url`).
   * </pre>
   */
  public static abstract class TokenServiceImplBase implements io.grpc.BindableService {

    /**
     * <pre>
     * Mints one ephemeral token.
     * Every error carries a `google.rpc.ErrorInfo` whose `domain` is
     * `livetokens.v1.TokenService` and whose `reason` is one of the values below
     * (the `ErrorReason` enum, without its `ERROR_REASON_` prefix).
     * Messages never contain the API key or a token. Error details are bounded so
     * that they fit in gRPC's trailers: at most 20 field violations are listed, long
     * values are cut, and `ErrorInfo.metadata["fieldViolationsOmitted"]` says how
     * many more there were.
     * | gRPC code           | ErrorInfo.reason              | When                                                              | Retry?                    |
     * |---------------------|-------------------------------|-------------------------------------------------------------------|---------------------------|
     * | INVALID_ARGUMENT    | INVALID_REQUEST               | The request breaks a documented rule; `google.rpc.BadRequest` lists every violated field path at once. | No: fix the request. |
     * | FAILED_PRECONDITION | REQUEST_ID_REUSED             | `request_id` was used before by this caller for a different request. | No: use a new id.      |
     * | INVALID_ARGUMENT    | UPSTREAM_REJECTED_REQUEST     | Google refused the translated request (HTTP 400). The redacted upstream message is included. | No. |
     * | RESOURCE_EXHAUSTED  | UPSTREAM_RATE_LIMITED         | Google answered HTTP 429 or 402. `google.rpc.RetryInfo` and `google.rpc.QuotaFailure` are passed on when Google sent them. | After RetryInfo's delay. |
     * | UNAVAILABLE         | UPSTREAM_UNAVAILABLE          | Google could not be reached, answered 5xx, or sent a malformed answer, after livetokens' own bounded retries. | Yes, with backoff. |
     * | DEADLINE_EXCEEDED   | DEADLINE_EXCEEDED             | The caller's deadline ran out before Google answered, or Google answered 504. | Yes, with a longer deadline. |
     * | INTERNAL            | UPSTREAM_CREDENTIALS_REJECTED | Google refused livetokens' own API key (HTTP 400 API_KEY_INVALID or 403). An operator must fix the server's configuration; the caller did nothing wrong. INTERNAL so that meshes count it as a server fault and page the operator. | No. |
     * | INTERNAL            | UPSTREAM_MISCONFIGURED        | Google answered 404 or another unexpected 4xx: the server's upstream URL or API version is wrong. | No. |
     * | FAILED_PRECONDITION | UPSTREAM_FAILED_PRECONDITION  | Google answered 400 FAILED_PRECONDITION (for example, no billing in the project's region). | No. |
     * | UNAUTHENTICATED     | UNAUTHENTICATED               | The caller presented no identity, or one that is not valid.       | No: fix the credentials.  |
     * | PERMISSION_DENIED   | POLICY_DENIED                 | The request is outside the caller's policy; `ErrorInfo.metadata["rule"]` names the rule, and `BadRequest` the field. | No. |
     * | RESOURCE_EXHAUSTED  | RATE_LIMITED                  | The caller exceeded its own mint rate; `RetryInfo` says when to retry. | After RetryInfo's delay. |
     * | UNAVAILABLE         | AUDIT_UNAVAILABLE             | The audit record could not be written, so no token was minted (fail closed). | Yes, with backoff. |
     * | INVALID_ARGUMENT    | REQUEST_UNDECODABLE           | The request bytes do not decode as a TokenRequest (corrupt data, invalid UTF-8 in a string, nesting deeper than protobuf's limit). | No: fix the client. |
     * | INVALID_ARGUMENT    | REQUEST_TOO_LARGE             | The request is over livetokens' cost budget (bytes, schema nodes, entries, characters; docs/hardening.md); `BadRequest` names each field over its limit. | No: make it smaller. |
     * | UNAVAILABLE         | OVERLOADED                    | livetokens has as many mints in progress as it admits (`--max-concurrent-mints`); `RetryInfo` says when to retry. | After RetryInfo's delay. |
     * | UNAVAILABLE         | STATE_UNAVAILABLE             | The shared state backend (for example Redis) is down or slow, so no token was minted (fail closed); `RetryInfo` says when to retry. | After RetryInfo's delay. |
     * | INTERNAL            | INTERNAL                      | A bug in livetokens. The message is generic; details are in the server log. | No. |
     * The `ErrorReason` enum lists the same reasons as constants: the reason string
     * on the wire is the enum value's name without its `ERROR_REASON_` prefix.
     * buf lint exception: the design card names this RPC `MintToken(TokenRequest)
     * returns (Token)`; see buf.yaml.
     * </pre>
     */
    public void mintToken(com.livetokens.v1.TokenRequest request,
        io.grpc.stub.StreamObserver<com.livetokens.v1.Token> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getMintTokenMethod(), responseObserver);
    }

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return io.grpc.ServerServiceDefinition.builder(getServiceDescriptor())
          .addMethod(
            getMintTokenMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                com.livetokens.v1.TokenRequest,
                com.livetokens.v1.Token>(
                  this, METHODID_MINT_TOKEN)))
          .build();
    }
  }

  /**
   * <pre>
   * TokenService mints Gemini Live API ephemeral tokens for internal services.
   * A browser or mobile app must never hold the Gemini API key. A backend service
   * calls MintToken, livetokens decides whether that caller may mint that token,
   * asks Google for it (`POST /{version}/auth_tokens`) with the key it alone
   * holds, and returns the short-lived credential. The app uses `Token.name`
   * instead of the API key on the Live API WebSocket (`Token.websocket_url`).
   * </pre>
   */
  public static final class TokenServiceStub extends io.grpc.stub.AbstractAsyncStub<TokenServiceStub> {
    private TokenServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected TokenServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new TokenServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Mints one ephemeral token.
     * Every error carries a `google.rpc.ErrorInfo` whose `domain` is
     * `livetokens.v1.TokenService` and whose `reason` is one of the values below
     * (the `ErrorReason` enum, without its `ERROR_REASON_` prefix).
     * Messages never contain the API key or a token. Error details are bounded so
     * that they fit in gRPC's trailers: at most 20 field violations are listed, long
     * values are cut, and `ErrorInfo.metadata["fieldViolationsOmitted"]` says how
     * many more there were.
     * | gRPC code           | ErrorInfo.reason              | When                                                              | Retry?                    |
     * |---------------------|-------------------------------|-------------------------------------------------------------------|---------------------------|
     * | INVALID_ARGUMENT    | INVALID_REQUEST               | The request breaks a documented rule; `google.rpc.BadRequest` lists every violated field path at once. | No: fix the request. |
     * | FAILED_PRECONDITION | REQUEST_ID_REUSED             | `request_id` was used before by this caller for a different request. | No: use a new id.      |
     * | INVALID_ARGUMENT    | UPSTREAM_REJECTED_REQUEST     | Google refused the translated request (HTTP 400). The redacted upstream message is included. | No. |
     * | RESOURCE_EXHAUSTED  | UPSTREAM_RATE_LIMITED         | Google answered HTTP 429 or 402. `google.rpc.RetryInfo` and `google.rpc.QuotaFailure` are passed on when Google sent them. | After RetryInfo's delay. |
     * | UNAVAILABLE         | UPSTREAM_UNAVAILABLE          | Google could not be reached, answered 5xx, or sent a malformed answer, after livetokens' own bounded retries. | Yes, with backoff. |
     * | DEADLINE_EXCEEDED   | DEADLINE_EXCEEDED             | The caller's deadline ran out before Google answered, or Google answered 504. | Yes, with a longer deadline. |
     * | INTERNAL            | UPSTREAM_CREDENTIALS_REJECTED | Google refused livetokens' own API key (HTTP 400 API_KEY_INVALID or 403). An operator must fix the server's configuration; the caller did nothing wrong. INTERNAL so that meshes count it as a server fault and page the operator. | No. |
     * | INTERNAL            | UPSTREAM_MISCONFIGURED        | Google answered 404 or another unexpected 4xx: the server's upstream URL or API version is wrong. | No. |
     * | FAILED_PRECONDITION | UPSTREAM_FAILED_PRECONDITION  | Google answered 400 FAILED_PRECONDITION (for example, no billing in the project's region). | No. |
     * | UNAUTHENTICATED     | UNAUTHENTICATED               | The caller presented no identity, or one that is not valid.       | No: fix the credentials.  |
     * | PERMISSION_DENIED   | POLICY_DENIED                 | The request is outside the caller's policy; `ErrorInfo.metadata["rule"]` names the rule, and `BadRequest` the field. | No. |
     * | RESOURCE_EXHAUSTED  | RATE_LIMITED                  | The caller exceeded its own mint rate; `RetryInfo` says when to retry. | After RetryInfo's delay. |
     * | UNAVAILABLE         | AUDIT_UNAVAILABLE             | The audit record could not be written, so no token was minted (fail closed). | Yes, with backoff. |
     * | INVALID_ARGUMENT    | REQUEST_UNDECODABLE           | The request bytes do not decode as a TokenRequest (corrupt data, invalid UTF-8 in a string, nesting deeper than protobuf's limit). | No: fix the client. |
     * | INVALID_ARGUMENT    | REQUEST_TOO_LARGE             | The request is over livetokens' cost budget (bytes, schema nodes, entries, characters; docs/hardening.md); `BadRequest` names each field over its limit. | No: make it smaller. |
     * | UNAVAILABLE         | OVERLOADED                    | livetokens has as many mints in progress as it admits (`--max-concurrent-mints`); `RetryInfo` says when to retry. | After RetryInfo's delay. |
     * | UNAVAILABLE         | STATE_UNAVAILABLE             | The shared state backend (for example Redis) is down or slow, so no token was minted (fail closed); `RetryInfo` says when to retry. | After RetryInfo's delay. |
     * | INTERNAL            | INTERNAL                      | A bug in livetokens. The message is generic; details are in the server log. | No. |
     * The `ErrorReason` enum lists the same reasons as constants: the reason string
     * on the wire is the enum value's name without its `ERROR_REASON_` prefix.
     * buf lint exception: the design card names this RPC `MintToken(TokenRequest)
     * returns (Token)`; see buf.yaml.
     * </pre>
     */
    public void mintToken(com.livetokens.v1.TokenRequest request,
        io.grpc.stub.StreamObserver<com.livetokens.v1.Token> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getMintTokenMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * <pre>
   * TokenService mints Gemini Live API ephemeral tokens for internal services.
   * A browser or mobile app must never hold the Gemini API key. A backend service
   * calls MintToken, livetokens decides whether that caller may mint that token,
   * asks Google for it (`POST /{version}/auth_tokens`) with the key it alone
   * holds, and returns the short-lived credential. The app uses `Token.name`
   * instead of the API key on the Live API WebSocket (`Token.websocket_url`).
   * </pre>
   */
  public static final class TokenServiceBlockingStub extends io.grpc.stub.AbstractBlockingStub<TokenServiceBlockingStub> {
    private TokenServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected TokenServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new TokenServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Mints one ephemeral token.
     * Every error carries a `google.rpc.ErrorInfo` whose `domain` is
     * `livetokens.v1.TokenService` and whose `reason` is one of the values below
     * (the `ErrorReason` enum, without its `ERROR_REASON_` prefix).
     * Messages never contain the API key or a token. Error details are bounded so
     * that they fit in gRPC's trailers: at most 20 field violations are listed, long
     * values are cut, and `ErrorInfo.metadata["fieldViolationsOmitted"]` says how
     * many more there were.
     * | gRPC code           | ErrorInfo.reason              | When                                                              | Retry?                    |
     * |---------------------|-------------------------------|-------------------------------------------------------------------|---------------------------|
     * | INVALID_ARGUMENT    | INVALID_REQUEST               | The request breaks a documented rule; `google.rpc.BadRequest` lists every violated field path at once. | No: fix the request. |
     * | FAILED_PRECONDITION | REQUEST_ID_REUSED             | `request_id` was used before by this caller for a different request. | No: use a new id.      |
     * | INVALID_ARGUMENT    | UPSTREAM_REJECTED_REQUEST     | Google refused the translated request (HTTP 400). The redacted upstream message is included. | No. |
     * | RESOURCE_EXHAUSTED  | UPSTREAM_RATE_LIMITED         | Google answered HTTP 429 or 402. `google.rpc.RetryInfo` and `google.rpc.QuotaFailure` are passed on when Google sent them. | After RetryInfo's delay. |
     * | UNAVAILABLE         | UPSTREAM_UNAVAILABLE          | Google could not be reached, answered 5xx, or sent a malformed answer, after livetokens' own bounded retries. | Yes, with backoff. |
     * | DEADLINE_EXCEEDED   | DEADLINE_EXCEEDED             | The caller's deadline ran out before Google answered, or Google answered 504. | Yes, with a longer deadline. |
     * | INTERNAL            | UPSTREAM_CREDENTIALS_REJECTED | Google refused livetokens' own API key (HTTP 400 API_KEY_INVALID or 403). An operator must fix the server's configuration; the caller did nothing wrong. INTERNAL so that meshes count it as a server fault and page the operator. | No. |
     * | INTERNAL            | UPSTREAM_MISCONFIGURED        | Google answered 404 or another unexpected 4xx: the server's upstream URL or API version is wrong. | No. |
     * | FAILED_PRECONDITION | UPSTREAM_FAILED_PRECONDITION  | Google answered 400 FAILED_PRECONDITION (for example, no billing in the project's region). | No. |
     * | UNAUTHENTICATED     | UNAUTHENTICATED               | The caller presented no identity, or one that is not valid.       | No: fix the credentials.  |
     * | PERMISSION_DENIED   | POLICY_DENIED                 | The request is outside the caller's policy; `ErrorInfo.metadata["rule"]` names the rule, and `BadRequest` the field. | No. |
     * | RESOURCE_EXHAUSTED  | RATE_LIMITED                  | The caller exceeded its own mint rate; `RetryInfo` says when to retry. | After RetryInfo's delay. |
     * | UNAVAILABLE         | AUDIT_UNAVAILABLE             | The audit record could not be written, so no token was minted (fail closed). | Yes, with backoff. |
     * | INVALID_ARGUMENT    | REQUEST_UNDECODABLE           | The request bytes do not decode as a TokenRequest (corrupt data, invalid UTF-8 in a string, nesting deeper than protobuf's limit). | No: fix the client. |
     * | INVALID_ARGUMENT    | REQUEST_TOO_LARGE             | The request is over livetokens' cost budget (bytes, schema nodes, entries, characters; docs/hardening.md); `BadRequest` names each field over its limit. | No: make it smaller. |
     * | UNAVAILABLE         | OVERLOADED                    | livetokens has as many mints in progress as it admits (`--max-concurrent-mints`); `RetryInfo` says when to retry. | After RetryInfo's delay. |
     * | UNAVAILABLE         | STATE_UNAVAILABLE             | The shared state backend (for example Redis) is down or slow, so no token was minted (fail closed); `RetryInfo` says when to retry. | After RetryInfo's delay. |
     * | INTERNAL            | INTERNAL                      | A bug in livetokens. The message is generic; details are in the server log. | No. |
     * The `ErrorReason` enum lists the same reasons as constants: the reason string
     * on the wire is the enum value's name without its `ERROR_REASON_` prefix.
     * buf lint exception: the design card names this RPC `MintToken(TokenRequest)
     * returns (Token)`; see buf.yaml.
     * </pre>
     */
    public com.livetokens.v1.Token mintToken(com.livetokens.v1.TokenRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getMintTokenMethod(), getCallOptions(), request);
    }
  }

  /**
   * <pre>
   * TokenService mints Gemini Live API ephemeral tokens for internal services.
   * A browser or mobile app must never hold the Gemini API key. A backend service
   * calls MintToken, livetokens decides whether that caller may mint that token,
   * asks Google for it (`POST /{version}/auth_tokens`) with the key it alone
   * holds, and returns the short-lived credential. The app uses `Token.name`
   * instead of the API key on the Live API WebSocket (`Token.websocket_url`).
   * </pre>
   */
  public static final class TokenServiceFutureStub extends io.grpc.stub.AbstractFutureStub<TokenServiceFutureStub> {
    private TokenServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected TokenServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new TokenServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Mints one ephemeral token.
     * Every error carries a `google.rpc.ErrorInfo` whose `domain` is
     * `livetokens.v1.TokenService` and whose `reason` is one of the values below
     * (the `ErrorReason` enum, without its `ERROR_REASON_` prefix).
     * Messages never contain the API key or a token. Error details are bounded so
     * that they fit in gRPC's trailers: at most 20 field violations are listed, long
     * values are cut, and `ErrorInfo.metadata["fieldViolationsOmitted"]` says how
     * many more there were.
     * | gRPC code           | ErrorInfo.reason              | When                                                              | Retry?                    |
     * |---------------------|-------------------------------|-------------------------------------------------------------------|---------------------------|
     * | INVALID_ARGUMENT    | INVALID_REQUEST               | The request breaks a documented rule; `google.rpc.BadRequest` lists every violated field path at once. | No: fix the request. |
     * | FAILED_PRECONDITION | REQUEST_ID_REUSED             | `request_id` was used before by this caller for a different request. | No: use a new id.      |
     * | INVALID_ARGUMENT    | UPSTREAM_REJECTED_REQUEST     | Google refused the translated request (HTTP 400). The redacted upstream message is included. | No. |
     * | RESOURCE_EXHAUSTED  | UPSTREAM_RATE_LIMITED         | Google answered HTTP 429 or 402. `google.rpc.RetryInfo` and `google.rpc.QuotaFailure` are passed on when Google sent them. | After RetryInfo's delay. |
     * | UNAVAILABLE         | UPSTREAM_UNAVAILABLE          | Google could not be reached, answered 5xx, or sent a malformed answer, after livetokens' own bounded retries. | Yes, with backoff. |
     * | DEADLINE_EXCEEDED   | DEADLINE_EXCEEDED             | The caller's deadline ran out before Google answered, or Google answered 504. | Yes, with a longer deadline. |
     * | INTERNAL            | UPSTREAM_CREDENTIALS_REJECTED | Google refused livetokens' own API key (HTTP 400 API_KEY_INVALID or 403). An operator must fix the server's configuration; the caller did nothing wrong. INTERNAL so that meshes count it as a server fault and page the operator. | No. |
     * | INTERNAL            | UPSTREAM_MISCONFIGURED        | Google answered 404 or another unexpected 4xx: the server's upstream URL or API version is wrong. | No. |
     * | FAILED_PRECONDITION | UPSTREAM_FAILED_PRECONDITION  | Google answered 400 FAILED_PRECONDITION (for example, no billing in the project's region). | No. |
     * | UNAUTHENTICATED     | UNAUTHENTICATED               | The caller presented no identity, or one that is not valid.       | No: fix the credentials.  |
     * | PERMISSION_DENIED   | POLICY_DENIED                 | The request is outside the caller's policy; `ErrorInfo.metadata["rule"]` names the rule, and `BadRequest` the field. | No. |
     * | RESOURCE_EXHAUSTED  | RATE_LIMITED                  | The caller exceeded its own mint rate; `RetryInfo` says when to retry. | After RetryInfo's delay. |
     * | UNAVAILABLE         | AUDIT_UNAVAILABLE             | The audit record could not be written, so no token was minted (fail closed). | Yes, with backoff. |
     * | INVALID_ARGUMENT    | REQUEST_UNDECODABLE           | The request bytes do not decode as a TokenRequest (corrupt data, invalid UTF-8 in a string, nesting deeper than protobuf's limit). | No: fix the client. |
     * | INVALID_ARGUMENT    | REQUEST_TOO_LARGE             | The request is over livetokens' cost budget (bytes, schema nodes, entries, characters; docs/hardening.md); `BadRequest` names each field over its limit. | No: make it smaller. |
     * | UNAVAILABLE         | OVERLOADED                    | livetokens has as many mints in progress as it admits (`--max-concurrent-mints`); `RetryInfo` says when to retry. | After RetryInfo's delay. |
     * | UNAVAILABLE         | STATE_UNAVAILABLE             | The shared state backend (for example Redis) is down or slow, so no token was minted (fail closed); `RetryInfo` says when to retry. | After RetryInfo's delay. |
     * | INTERNAL            | INTERNAL                      | A bug in livetokens. The message is generic; details are in the server log. | No. |
     * The `ErrorReason` enum lists the same reasons as constants: the reason string
     * on the wire is the enum value's name without its `ERROR_REASON_` prefix.
     * buf lint exception: the design card names this RPC `MintToken(TokenRequest)
     * returns (Token)`; see buf.yaml.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<com.livetokens.v1.Token> mintToken(
        com.livetokens.v1.TokenRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getMintTokenMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_MINT_TOKEN = 0;

  private static final class MethodHandlers<Req, Resp> implements
      io.grpc.stub.ServerCalls.UnaryMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ServerStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ClientStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.BidiStreamingMethod<Req, Resp> {
    private final TokenServiceImplBase serviceImpl;
    private final int methodId;

    MethodHandlers(TokenServiceImplBase serviceImpl, int methodId) {
      this.serviceImpl = serviceImpl;
      this.methodId = methodId;
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public void invoke(Req request, io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        case METHODID_MINT_TOKEN:
          serviceImpl.mintToken((com.livetokens.v1.TokenRequest) request,
              (io.grpc.stub.StreamObserver<com.livetokens.v1.Token>) responseObserver);
          break;
        default:
          throw new AssertionError();
      }
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public io.grpc.stub.StreamObserver<Req> invoke(
        io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        default:
          throw new AssertionError();
      }
    }
  }

  private static abstract class TokenServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    TokenServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return com.livetokens.v1.TokenServiceProto.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("TokenService");
    }
  }

  private static final class TokenServiceFileDescriptorSupplier
      extends TokenServiceBaseDescriptorSupplier {
    TokenServiceFileDescriptorSupplier() {}
  }

  private static final class TokenServiceMethodDescriptorSupplier
      extends TokenServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final String methodName;

    TokenServiceMethodDescriptorSupplier(String methodName) {
      this.methodName = methodName;
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.MethodDescriptor getMethodDescriptor() {
      return getServiceDescriptor().findMethodByName(methodName);
    }
  }

  private static volatile io.grpc.ServiceDescriptor serviceDescriptor;

  public static io.grpc.ServiceDescriptor getServiceDescriptor() {
    io.grpc.ServiceDescriptor result = serviceDescriptor;
    if (result == null) {
      synchronized (TokenServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new TokenServiceFileDescriptorSupplier())
              .addMethod(getMintTokenMethod())
              .build();
        }
      }
    }
    return result;
  }
}
