package com.livetokens.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import com.livetokens.v1.Token;
import com.livetokens.v1.TokenRequest;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.protobuf.StatusProto;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The client against an in-process fake server: request ids, retries, error decoding. */
class LiveTokensClientTest {
  private static final Duration DEADLINE = Duration.ofSeconds(10);

  private final FakeTokenService service = new FakeTokenService();
  private Server server;
  private LiveTokensClient client;

  @BeforeEach
  void start() throws IOException {
    String name = InProcessServerBuilder.generateName();
    server =
        InProcessServerBuilder.forName(name).directExecutor().addService(service).build().start();
    client = LiveTokensClient.newBuilder(InProcessChannelBuilder.forName(name)).build();
  }

  @AfterEach
  void stop() throws InterruptedException {
    client.close();
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  @Test
  void aRequestWithoutRequestIdGetsAFreshUuid4() {
    client.mintToken(TokenRequest.getDefaultInstance(), DEADLINE);
    client.mintToken(TokenRequest.getDefaultInstance(), DEADLINE);

    List<TokenRequest> received = service.received();
    assertEquals(2, received.size());
    for (TokenRequest request : received) {
      String id = request.getRequestId();
      assertEquals(36, id.length(), id);
      assertEquals(id, UUID.fromString(id).toString(), "canonical lowercase form");
      assertEquals(4, UUID.fromString(id).version(), id);
    }
    assertNotEquals(received.get(0).getRequestId(), received.get(1).getRequestId());
  }

  @Test
  void aCallersRequestIdIsSentUnchanged() {
    String id = "6f1c8a52-4a8e-4d0b-9a55-0b0c3a8f4f1e";

    Token token = client.mintToken(TokenRequest.newBuilder().setRequestId(id).setUses(3).build());

    assertEquals(
        List.of(TokenRequest.newBuilder().setRequestId(id).setUses(3).build()), service.received());
    assertEquals("hmac-sha256:" + id, token.getFingerprint());
  }

  @Test
  void unavailableIsRetriedWithTheSameRequestIdUntilItSucceeds() {
    service
        .failNext(Status.UNAVAILABLE.withDescription("first").asRuntimeException())
        .failNext(Status.UNAVAILABLE.withDescription("second").asRuntimeException());

    Token token = client.mintToken(TokenRequest.getDefaultInstance(), DEADLINE);

    List<TokenRequest> received = service.received();
    assertEquals(3, received.size(), "service config allows 3 attempts");
    String id = received.get(0).getRequestId();
    assertEquals(List.of(id, id, id), received.stream().map(TokenRequest::getRequestId).toList());
    assertEquals("hmac-sha256:" + id, token.getFingerprint());
  }

  @Test
  void unavailableGivesUpAfterThreeAttempts() {
    for (int i = 0; i < 4; i++) {
      service.failNext(Status.UNAVAILABLE.withDescription("down " + i).asRuntimeException());
    }

    StatusRuntimeException error =
        assertThrows(
            StatusRuntimeException.class,
            () -> client.mintToken(TokenRequest.getDefaultInstance(), DEADLINE));

    assertEquals(Status.Code.UNAVAILABLE, error.getStatus().getCode());
    assertEquals("down 2", error.getStatus().getDescription());
    assertEquals(3, service.received().size());
  }

  @Test
  void otherCodesAreNotRetriedAndTheirDetailsReachTheCaller() {
    service.failNext(
        StatusProto.toStatusRuntimeException(
            com.google.rpc.Status.newBuilder()
                .setCode(Code.INVALID_ARGUMENT_VALUE)
                .setMessage("invalid request")
                .addDetails(
                    Any.pack(
                        ErrorInfo.newBuilder()
                            .setReason("INVALID_REQUEST")
                            .setDomain(ErrorDetails.DOMAIN)
                            .build()))
                .addDetails(
                    Any.pack(
                        BadRequest.newBuilder()
                            .addFieldViolations(
                                BadRequest.FieldViolation.newBuilder().setField("lifetime"))
                            .build()))
                .build()));

    StatusRuntimeException error =
        assertThrows(
            StatusRuntimeException.class,
            () -> client.mintToken(TokenRequest.getDefaultInstance(), DEADLINE));

    ErrorDetails details = ErrorDetails.from(error);
    assertEquals(Status.Code.INVALID_ARGUMENT, details.code());
    assertEquals("INVALID_REQUEST", details.reason());
    assertEquals(
        List.of("lifetime"),
        details.fieldViolations().stream().map(ErrorDetails.FieldViolation::field).toList());
    assertEquals(1, service.received().size());
  }

  @Test
  void theAsyncCallDefaultsTheRequestIdAndFailsWithDecodableDetails() throws Exception {
    Token token = client.mintTokenAsync(TokenRequest.getDefaultInstance(), DEADLINE).get();
    String id = service.received().get(0).getRequestId();
    assertEquals(4, UUID.fromString(id).version());
    assertEquals("hmac-sha256:" + id, token.getFingerprint());

    service.failNext(
        StatusProto.toStatusRuntimeException(
            com.google.rpc.Status.newBuilder()
                .setCode(Code.FAILED_PRECONDITION_VALUE)
                .addDetails(
                    Any.pack(
                        ErrorInfo.newBuilder()
                            .setReason("REQUEST_ID_REUSED")
                            .setDomain(ErrorDetails.DOMAIN)
                            .build()))
                .build()));
    ExecutionException error =
        assertThrows(
            ExecutionException.class,
            () -> client.mintTokenAsync(TokenRequest.getDefaultInstance()).get());
    ErrorDetails details = ErrorDetails.from(error);
    assertEquals(Status.Code.FAILED_PRECONDITION, details.code());
    assertEquals("REQUEST_ID_REUSED", details.reason());
  }

  @Test
  void theServiceConfigIsTheSharedOneRetryingOnlyUnavailable() {
    Map<String, ?> config = LiveTokensClient.serviceConfig();

    List<?> methodConfigs = (List<?>) config.get("methodConfig");
    assertEquals(1, methodConfigs.size());
    Map<?, ?> methodConfig = (Map<?, ?>) methodConfigs.get(0);
    assertEquals(
        List.of(Map.of("service", "livetokens.v1.TokenService", "method", "MintToken")),
        methodConfig.get("name"));
    Map<?, ?> retryPolicy = (Map<?, ?>) methodConfig.get("retryPolicy");
    assertEquals(3.0, retryPolicy.get("maxAttempts"));
    assertEquals(List.of("UNAVAILABLE"), retryPolicy.get("retryableStatusCodes"));
    assertTrue(!methodConfig.containsKey("hedgingPolicy"), "never hedging");
  }
}
