package com.livetokens.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.Timestamp;
import com.livetokens.v1.ErrorReason;
import com.livetokens.v1.Token;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class HelpersTest {
  @Test
  void everyErrorReasonConvertsToItsNameWithoutThePrefixAndBack() {
    for (ErrorReason reason : ErrorReason.values()) {
      if (reason == ErrorReason.ERROR_REASON_UNSPECIFIED || reason == ErrorReason.UNRECOGNIZED) {
        continue;
      }
      String wire = ErrorReasons.name(reason);
      assertEquals(reason.name(), "ERROR_REASON_" + wire);
      assertEquals(reason, ErrorReasons.parse(wire));
    }
    assertEquals("INVALID_REQUEST", ErrorReasons.name(ErrorReason.ERROR_REASON_INVALID_REQUEST));
    assertEquals("", ErrorReasons.name(ErrorReason.ERROR_REASON_UNSPECIFIED));
    assertEquals(ErrorReason.ERROR_REASON_UNSPECIFIED, ErrorReasons.parse(""));
    assertEquals(ErrorReason.ERROR_REASON_UNSPECIFIED, ErrorReasons.parse("NOT_A_REASON"));
    assertEquals(
        ErrorReason.ERROR_REASON_UNSPECIFIED, ErrorReasons.parse("ERROR_REASON_INVALID_REQUEST"));
  }

  @Test
  void timesConvertBetweenJavaTimeAndProtobuf() {
    Duration tenMinutes = Duration.ofMinutes(10).plusNanos(5);
    assertEquals(600, Times.toProto(tenMinutes).getSeconds());
    assertEquals(5, Times.toProto(tenMinutes).getNanos());
    assertEquals(tenMinutes, Times.toDuration(Times.toProto(tenMinutes)));
    Instant when = Instant.parse("2030-01-02T03:04:05.678Z");
    Timestamp stamp =
        Timestamp.newBuilder().setSeconds(when.getEpochSecond()).setNanos(when.getNano()).build();
    Token token = Token.newBuilder().setExpireTime(stamp).setNewSessionExpireTime(stamp).build();
    assertEquals(when, Times.expireTime(token));
    assertEquals(when, Times.newSessionExpireTime(token));
  }

  @Test
  void contradictoryTlsOptionsAreRefusedAtBuild() {
    assertThrows(
        IllegalStateException.class,
        () -> LiveTokensClient.newBuilder("127.0.0.1:1").usePlaintext().bearerToken("s3cret").build());
    assertThrows(
        IllegalStateException.class,
        () ->
            LiveTokensClient.newBuilder("127.0.0.1:1")
                .usePlaintext()
                .trustCertificates(Path.of("ca.pem"))
                .build());
  }
}
