package com.livetokens.client;

import com.livetokens.v1.ErrorReason;
import java.util.Objects;

/**
 * Converts between the {@link ErrorReason} constants and the {@code google.rpc.ErrorInfo.reason}
 * strings livetokens sends: the string is the constant's name without its {@code
 * ERROR_REASON_} prefix ({@code ERROR_REASON_INVALID_REQUEST} is sent as {@code
 * INVALID_REQUEST}).
 */
public final class ErrorReasons {
  private static final String PREFIX = "ERROR_REASON_";

  private ErrorReasons() {}

  /**
   * The wire string of {@code reason}, for example {@code INVALID_REQUEST}; empty for {@code
   * ERROR_REASON_UNSPECIFIED} and {@code UNRECOGNIZED}.
   */
  public static String name(ErrorReason reason) {
    Objects.requireNonNull(reason, "reason");
    if (reason == ErrorReason.ERROR_REASON_UNSPECIFIED || reason == ErrorReason.UNRECOGNIZED) {
      return "";
    }
    return reason.name().substring(PREFIX.length());
  }

  /**
   * The constant of a wire string; {@code ERROR_REASON_UNSPECIFIED} when it is empty or newer
   * than this client (then go by the gRPC code).
   */
  public static ErrorReason parse(String reason) {
    Objects.requireNonNull(reason, "reason");
    if (reason.isEmpty()) {
      return ErrorReason.ERROR_REASON_UNSPECIFIED;
    }
    for (ErrorReason value : ErrorReason.values()) {
      if (value != ErrorReason.UNRECOGNIZED && value.name().equals(PREFIX + reason)) {
        return value;
      }
    }
    return ErrorReason.ERROR_REASON_UNSPECIFIED;
  }
}
