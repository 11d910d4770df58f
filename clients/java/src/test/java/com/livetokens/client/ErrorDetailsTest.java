package com.livetokens.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import com.google.rpc.QuotaFailure;
import com.google.rpc.RetryInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

class ErrorDetailsTest {
  private static final com.google.rpc.Status INVALID_REQUEST =
      com.google.rpc.Status.newBuilder()
          .setCode(Code.INVALID_ARGUMENT_VALUE)
          .setMessage("the request breaks 2 rules")
          .addDetails(
              Any.pack(
                  ErrorInfo.newBuilder()
                      .setReason("INVALID_REQUEST")
                      .setDomain("livetokens.v1.TokenService")
                      .putMetadata("violations", "2")
                      .build()))
          .addDetails(
              Any.pack(
                  BadRequest.newBuilder()
                      .addFieldViolations(
                          BadRequest.FieldViolation.newBuilder()
                              .setField("constraints.config.temperature")
                              .setDescription("must be between 0.0 and 2.0")
                              .setReason("OUT_OF_RANGE"))
                      .addFieldViolations(
                          BadRequest.FieldViolation.newBuilder()
                              .setField("constraints.config.tools[0].function_declarations[1].name")
                              .setDescription("must not be empty"))
                      .build()))
          .build();

  @Test
  void decodesErrorInfoAndEveryFieldViolationFromTheTrailer() {
    // A StatusRuntimeException as the stub throws it: the Status proto rides in its trailers.
    StatusRuntimeException error = StatusProto.toStatusRuntimeException(INVALID_REQUEST);

    ErrorDetails details = ErrorDetails.from(error);

    assertEquals(Status.Code.INVALID_ARGUMENT, details.code());
    assertEquals("the request breaks 2 rules", details.message());
    assertEquals("INVALID_REQUEST", details.reason());
    assertEquals(ErrorDetails.DOMAIN, details.domain());
    assertEquals(Map.of("violations", "2"), details.metadata());
    assertEquals(
        List.of(
            new ErrorDetails.FieldViolation(
                "constraints.config.temperature", "must be between 0.0 and 2.0", "OUT_OF_RANGE"),
            new ErrorDetails.FieldViolation(
                "constraints.config.tools[0].function_declarations[1].name",
                "must not be empty",
                "")),
        details.fieldViolations());
    assertEquals(Optional.empty(), details.retryDelay());
  }

  @Test
  void decodesTheRetryDelayAndIgnoresDetailTypesItDoesNotKnow() {
    com.google.rpc.Status status =
        com.google.rpc.Status.newBuilder()
            .setCode(Code.RESOURCE_EXHAUSTED_VALUE)
            .setMessage("mint rate exceeded")
            .addDetails(
                Any.pack(
                    QuotaFailure.newBuilder()
                        .addViolations(QuotaFailure.Violation.newBuilder().setSubject("caller"))
                        .build()))
            .addDetails(
                Any.pack(
                    ErrorInfo.newBuilder()
                        .setReason("RATE_LIMITED")
                        .setDomain(ErrorDetails.DOMAIN)
                        .build()))
            .addDetails(
                Any.pack(
                    RetryInfo.newBuilder()
                        .setRetryDelay(
                            com.google.protobuf.Duration.newBuilder()
                                .setSeconds(1)
                                .setNanos(500_000_000))
                        .build()))
            .build();

    ErrorDetails details = ErrorDetails.from(status);

    assertEquals(Status.Code.RESOURCE_EXHAUSTED, details.code());
    assertEquals("RATE_LIMITED", details.reason());
    assertEquals(Optional.of(Duration.ofMillis(1500)), details.retryDelay());
    assertTrue(details.fieldViolations().isEmpty());
  }

  @Test
  void findsTheStatusInsideTheExecutionExceptionOfAFailedFuture() {
    ExecutionException wrapped =
        new ExecutionException(StatusProto.toStatusRuntimeException(INVALID_REQUEST));

    ErrorDetails details = ErrorDetails.from(wrapped);

    assertEquals(Status.Code.INVALID_ARGUMENT, details.code());
    assertEquals("INVALID_REQUEST", details.reason());
    assertEquals(2, details.fieldViolations().size());
  }

  @Test
  void aStatusWithoutDetailsKeepsItsCodeAndMessageAndHasNoReason() {
    StatusRuntimeException error =
        Status.DEADLINE_EXCEEDED.withDescription("deadline exceeded after 0.5s").asRuntimeException();

    ErrorDetails details = ErrorDetails.from(error);

    assertEquals(Status.Code.DEADLINE_EXCEEDED, details.code());
    assertEquals("deadline exceeded after 0.5s", details.message());
    assertEquals("", details.reason());
    assertEquals("", details.domain());
    assertTrue(details.metadata().isEmpty());
    assertTrue(details.fieldViolations().isEmpty());
  }

  @Test
  void aThrowableWithoutAStatusDecodesAsUnknown() {
    ErrorDetails details = ErrorDetails.from(new IllegalStateException("boom"));

    assertEquals(Status.Code.UNKNOWN, details.code());
    assertEquals("", details.reason());
  }

  @Test
  void aDetailThatDoesNotParseIsSkippedAndTheOthersStillDecode() {
    com.google.rpc.Status status =
        INVALID_REQUEST.toBuilder()
            .addDetails(
                0,
                Any.newBuilder()
                    .setTypeUrl("type.googleapis.com/google.rpc.ErrorInfo")
                    .setValue(ByteString.copyFromUtf8("\u00ff\u00ff not a message")))
            .build();

    ErrorDetails details = ErrorDetails.from(status);

    assertEquals("INVALID_REQUEST", details.reason());
    assertEquals(2, details.fieldViolations().size());
  }
}
