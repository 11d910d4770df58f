package com.livetokens.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.livetokens.example.MintExample;
import com.livetokens.v1.ErrorReason;
import com.livetokens.v1.LiveConfig;
import com.livetokens.v1.LiveConstraints;
import com.livetokens.v1.Lock;
import com.livetokens.v1.LockMode;
import com.livetokens.v1.LockableField;
import com.livetokens.v1.Modality;
import com.livetokens.v1.SessionResumptionConfig;
import com.livetokens.v1.Token;
import com.livetokens.v1.TokenRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The contract scenario every livetokens client runs against a live server. Run through the
 * harness, which starts one and exports LIVETOKENS_TARGET and LIVETOKENS_SLOW_MODEL:
 * {@code .venv/bin/python tools/with_livetokens.py -- mvn -B -f clients/java/pom.xml -Pcontract
 * test}.
 */
@Tag("contract")
class ContractScenarioTest {
  private static final Duration DEADLINE = Duration.ofSeconds(10);
  private static final Duration TOLERANCE = Duration.ofMinutes(2);

  private static String target;
  private static String slowModel;
  private static LiveTokensClient client;

  @BeforeAll
  static void connect() {
    target = System.getenv("LIVETOKENS_TARGET");
    slowModel = System.getenv("LIVETOKENS_SLOW_MODEL");
    assertNotNull(
        target, "LIVETOKENS_TARGET is unset: run this test through tools/with_livetokens.py");
    assertNotNull(
        slowModel, "LIVETOKENS_SLOW_MODEL is unset: run this test through tools/with_livetokens.py");
    client = LiveTokensClient.newBuilder(target).usePlaintext().build();
  }

  @AfterAll
  static void disconnect() {
    if (client != null) {
      client.close();
    }
  }

  /** The seed's constraints: audio, temperature 0.7, session resumption on. */
  private static LiveConstraints.Builder seedConstraints() {
    return LiveConstraints.newBuilder()
        .setModel("gemini-live-2.5-flash-preview")
        .setConfig(
            LiveConfig.newBuilder()
                .addResponseModalities(Modality.MODALITY_AUDIO)
                .setTemperature(0.7f)
                .setSessionResumption(SessionResumptionConfig.getDefaultInstance()));
  }

  private static void assertNear(Instant expected, com.google.protobuf.Timestamp actual) {
    Instant got = Instant.ofEpochSecond(actual.getSeconds(), actual.getNanos());
    assertTrue(
        Duration.between(expected, got).abs().compareTo(TOLERANCE) <= 0,
        () -> "expected about " + expected + ", got " + got);
  }

  @Test
  void seedConstraintsWithoutLockMintAFullyLockedToken() {
    Instant now = Instant.now();

    Token token =
        client.mintToken(TokenRequest.newBuilder().setConstraints(seedConstraints()).build(), DEADLINE);

    assertTrue(token.getName().startsWith("auth_tokens/"), "name is an auth_tokens/ resource");
    assertNear(now.plus(Duration.ofMinutes(30)), token.getExpireTime());
    assertNear(now.plus(Duration.ofMinutes(1)), token.getNewSessionExpireTime());
    assertEquals(1, token.getUses());
    assertTrue(token.getLock().getWholeSetup());
    assertEquals(List.of(), token.getLock().getFieldPathsList());
    assertEquals("models/gemini-live-2.5-flash-preview", token.getModel());
    assertTrue(token.getFingerprint().startsWith("hmac-sha256:"), token.getFingerprint());
    assertTrue(
        token.getWebsocketUrl().endsWith("BidiGenerateContentConstrained"), token.getWebsocketUrl());
    assertEquals("v1alpha", token.getApiVersion());
  }

  @Test
  void setFieldsLockReportsTheLockedPathsInServerOrder() {
    TokenRequest request =
        TokenRequest.newBuilder()
            .setConstraints(seedConstraints())
            .setLock(
                Lock.newBuilder()
                    .setMode(LockMode.LOCK_MODE_SET_FIELDS)
                    .addAdditionalFields(LockableField.LOCKABLE_FIELD_OUTPUT_AUDIO_TRANSCRIPTION))
            .build();

    Token token = client.mintToken(request, DEADLINE);

    assertFalse(token.getLock().getWholeSetup());
    assertEquals(
        List.of(
            "model",
            "generationConfig.responseModalities",
            "generationConfig.temperature",
            "sessionResumption",
            "outputAudioTranscription"),
        token.getLock().getFieldPathsList());
  }

  @Test
  void temperatureOutOfRangeIsAnInvalidRequestNamingTheField() {
    TokenRequest request =
        TokenRequest.newBuilder()
            .setConstraints(
                seedConstraints()
                    .setConfig(seedConstraints().getConfigBuilder().setTemperature(5.0f)))
            .build();

    StatusRuntimeException error =
        assertThrows(StatusRuntimeException.class, () -> client.mintToken(request, DEADLINE));

    ErrorDetails details = ErrorDetails.from(error);
    assertEquals(Status.Code.INVALID_ARGUMENT, details.code());
    assertEquals("INVALID_REQUEST", details.reason());
    assertEquals("livetokens.v1.TokenService", details.domain());
    assertTrue(
        details.fieldViolations().stream()
            .anyMatch(v -> v.field().equals("constraints.config.temperature")),
        () -> "field violations: " + details.fieldViolations());
  }

  @Test
  void aSlowUpstreamRunsIntoTheCallersDeadline() {
    TokenRequest request =
        TokenRequest.newBuilder()
            .setConstraints(seedConstraints().setModel(slowModel))
            .build();

    StatusRuntimeException error =
        assertThrows(
            StatusRuntimeException.class,
            () -> client.mintToken(request, Duration.ofMillis(500)));

    assertEquals(Status.Code.DEADLINE_EXCEEDED, error.getStatus().getCode());
  }

  @Test
  void theSameRequestIdReturnsTheSameToken() {
    TokenRequest request =
        TokenRequest.newBuilder()
            .setConstraints(seedConstraints())
            .setRequestId(UUID.randomUUID().toString())
            .build();

    Token first = client.mintToken(request, DEADLINE);
    Token second = client.mintToken(request, DEADLINE);

    // Compare without printing: the name is a credential.
    assertTrue(first.getName().equals(second.getName()), "the same name both times");
    assertEquals(first.getFingerprint(), second.getFingerprint());
  }

  @Test
  void theReadmeExampleMintsATenMinuteTokenAndDecodesTheRejectedUses() {
    PrintStream stdout = System.out;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      MintExample.main(new String[0]);
    } finally {
      System.setOut(stdout);
    }
    String out = captured.toString(StandardCharsets.UTF_8);
    Matcher m =
        Pattern.compile(
                "name: auth_tokens/\\.\\.\\.\\(redacted\\)\n"
                    + "expires: (\\S+)\n"
                    + "fingerprint: hmac-sha256:[0-9a-f]{32}\n"
                    + "rejected: INVALID_ARGUMENT INVALID_REQUEST\n"
                    + "violation: uses: must be 0 or more, got -1\n")
            .matcher(out);
    assertTrue(m.matches(), "the example printed:\n" + out);
    Duration off =
        Duration.between(Instant.now().plus(Duration.ofMinutes(10)), Instant.parse(m.group(1)));
    assertTrue(off.abs().compareTo(TOLERANCE) <= 0, "expiry off now + 10 min by " + off);
  }

  private static String env(String name) {
    String value = System.getenv(name);
    assertNotNull(value, name + " is unset: run this test through tools/with_livetokens.py");
    return value;
  }

  @Test
  void trustCertificatesAndClientCertificateGiveMutualTls() {
    try (LiveTokensClient secure =
        LiveTokensClient.newBuilder(env("LIVETOKENS_MTLS_TARGET"))
            .trustCertificates(Path.of(env("LIVETOKENS_CA_FILE")))
            .clientCertificate(
                Path.of(env("LIVETOKENS_CLIENT_CERT")), Path.of(env("LIVETOKENS_CLIENT_KEY")))
            .build()) {
      Token token =
          secure.mintToken(
              TokenRequest.newBuilder()
                  .setConstraints(seedConstraints())
                  .setLifetime(Times.toProto(Duration.ofMinutes(10)))
                  .build(),
              DEADLINE);
      Duration off =
          Duration.between(Instant.now().plus(Duration.ofMinutes(10)), Times.expireTime(token));
      assertTrue(off.abs().compareTo(TOLERANCE) <= 0, "expiry off now + 10 min by " + off);
    }
  }

  @Test
  void bearerTokenOverTlsMintsAndItsAbsenceIsUnauthenticated() {
    Path ca = Path.of(env("LIVETOKENS_CA_FILE"));
    String tlsTarget = env("LIVETOKENS_TLS_TARGET");
    TokenRequest request = TokenRequest.newBuilder().setConstraints(seedConstraints()).build();
    try (LiveTokensClient withBearer =
            LiveTokensClient.newBuilder(tlsTarget)
                .trustCertificates(ca)
                .bearerToken(env("LIVETOKENS_BEARER_TOKEN"))
                .build();
        LiveTokensClient anonymous =
            LiveTokensClient.newBuilder(tlsTarget).trustCertificates(ca).build()) {
      assertTrue(withBearer.mintToken(request, DEADLINE).getFingerprint().startsWith("hmac-"));
      StatusRuntimeException e =
          assertThrows(StatusRuntimeException.class, () -> anonymous.mintToken(request, DEADLINE));
      ErrorDetails details = ErrorDetails.from(e);
      assertEquals(Status.Code.UNAUTHENTICATED, details.code());
      assertEquals(ErrorReason.ERROR_REASON_UNAUTHENTICATED, details.errorReason());
    }
  }

  @Test
  void anUntrustedServerCertificateFailsUnavailableAsInEveryClient() {
    try (LiveTokensClient systemRoots =
        LiveTokensClient.newBuilder(env("LIVETOKENS_TLS_TARGET"))
            .bearerToken(env("LIVETOKENS_BEARER_TOKEN"))
            .build()) {
      StatusRuntimeException e =
          assertThrows(
              StatusRuntimeException.class,
              () -> systemRoots.mintToken(TokenRequest.getDefaultInstance(), DEADLINE));
      ErrorDetails details = ErrorDetails.from(e);
      assertEquals(Status.Code.UNAVAILABLE, details.code());
      assertEquals(ErrorReason.ERROR_REASON_UNSPECIFIED, details.errorReason());
    }
  }
}
