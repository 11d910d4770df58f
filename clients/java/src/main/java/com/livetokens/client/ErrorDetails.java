package com.livetokens.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What a failed livetokens call says about itself, decoded from the {@code
 * grpc-status-details-bin} trailer (a serialized {@code google.rpc.Status}).
 *
 * @param code the gRPC status code
 * @param message the status message (never contains the API key or a token)
 * @param reason {@code ErrorInfo.reason}, for example {@code INVALID_REQUEST}; empty when the
 *     error carried no {@code ErrorInfo} (for example a deadline that ran out in the client)
 * @param domain {@code ErrorInfo.domain}, {@code livetokens.v1.TokenService} for the server's own
 *     errors; empty without {@code ErrorInfo}
 * @param metadata {@code ErrorInfo.metadata}, for example {@code rule} for {@code POLICY_DENIED}
 * @param fieldViolations {@code BadRequest.field_violations}, each field an AIP-193 path such as
 *     {@code constraints.config.temperature}
 * @param retryDelay {@code RetryInfo.retry_delay}, when the server says when to retry
 */
public record ErrorDetails(
    Status.Code code,
    String message,
    String reason,
    String domain,
    Map<String, String> metadata,
    List<FieldViolation> fieldViolations,
    Optional<Duration> retryDelay) {

  /** The reasons' domain for errors raised by livetokens itself. */
  public static final String DOMAIN = "livetokens.v1.TokenService";

  /**
   * One violated request field ({@code google.rpc.BadRequest.FieldViolation}).
   *
   * @param field the field path (AIP-193), for example {@code constraints.config.temperature}
   * @param description what is wrong, for a human
   * @param reason a machine-readable reason; empty when the server sent none
   */
  public record FieldViolation(String field, String description, String reason) {}

  /**
   * {@link #reason()} as a constant to switch on, for example {@code
   * ErrorReason.ERROR_REASON_INVALID_REQUEST}; {@code ERROR_REASON_UNSPECIFIED} without {@code
   * ErrorInfo} (a client-side deadline, a failed connection or TLS handshake) or for a reason
   * newer than this client.
   */
  public com.livetokens.v1.ErrorReason errorReason() {
    return ErrorReasons.parse(reason);
  }

  /** Copies the collections, so that a record never changes after it is made. */
  public ErrorDetails {
    Objects.requireNonNull(code, "code");
    message = Objects.requireNonNullElse(message, "");
    reason = Objects.requireNonNullElse(reason, "");
    domain = Objects.requireNonNullElse(domain, "");
    metadata = Map.copyOf(metadata);
    fieldViolations = List.copyOf(fieldViolations);
    Objects.requireNonNull(retryDelay, "retryDelay");
  }

  /**
   * Decodes the error of a failed call: a {@link io.grpc.StatusRuntimeException}, a {@link
   * io.grpc.StatusException}, or anything whose cause chain holds one (such as the {@link
   * java.util.concurrent.ExecutionException} of a failed future). Anything else decodes as
   * {@code UNKNOWN} with no details.
   */
  public static ErrorDetails from(Throwable error) {
    Objects.requireNonNull(error, "error");
    Status status = Status.fromThrowable(error);
    com.google.rpc.Status details = StatusProto.fromThrowable(error);
    if (details == null) {
      return new ErrorDetails(
          status.getCode(),
          status.getDescription(),
          "",
          "",
          Map.of(),
          List.of(),
          Optional.empty());
    }
    return from(details);
  }

  /**
   * Decodes a {@code google.rpc.Status}. Detail messages of other types are ignored; of several
   * {@code ErrorInfo} or {@code RetryInfo}, the first counts; the violations of every {@code
   * BadRequest} are listed in order.
   */
  public static ErrorDetails from(com.google.rpc.Status status) {
    Objects.requireNonNull(status, "status");
    ErrorInfo errorInfo = null;
    RetryInfo retryInfo = null;
    List<FieldViolation> violations = new ArrayList<>();
    for (Any detail : status.getDetailsList()) {
      try {
        if (detail.is(ErrorInfo.class)) {
          if (errorInfo == null) {
            errorInfo = detail.unpack(ErrorInfo.class);
          }
        } else if (detail.is(BadRequest.class)) {
          for (BadRequest.FieldViolation v : detail.unpack(BadRequest.class).getFieldViolationsList()) {
            violations.add(new FieldViolation(v.getField(), v.getDescription(), v.getReason()));
          }
        } else if (detail.is(RetryInfo.class)) {
          if (retryInfo == null) {
            retryInfo = detail.unpack(RetryInfo.class);
          }
        }
      } catch (InvalidProtocolBufferException e) {
        // A detail that claims a known type but does not parse is skipped like an unknown one:
        // the status code and message still describe the failure.
      }
    }
    Optional<Duration> retryDelay =
        retryInfo != null && retryInfo.hasRetryDelay()
            ? Optional.of(
                Duration.ofSeconds(
                    retryInfo.getRetryDelay().getSeconds(), retryInfo.getRetryDelay().getNanos()))
            : Optional.empty();
    return new ErrorDetails(
        Status.fromCodeValue(status.getCode()).getCode(),
        status.getMessage(),
        errorInfo == null ? "" : errorInfo.getReason(),
        errorInfo == null ? "" : errorInfo.getDomain(),
        errorInfo == null ? Map.of() : errorInfo.getMetadataMap(),
        violations,
        retryDelay);
  }
}
