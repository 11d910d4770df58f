package com.livetokens.client;

import com.google.protobuf.Timestamp;
import com.livetokens.v1.Token;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * Durations and timestamps in {@code java.time} terms, so that callers never build a {@code
 * com.google.protobuf.Duration} or read a {@code Timestamp} by hand (and need no
 * protobuf-java-util):
 *
 * <pre>{@code
 * TokenRequest.newBuilder().setLifetime(Times.toProto(Duration.ofMinutes(10)))
 * Instant expires = Times.expireTime(token);
 * }</pre>
 */
public final class Times {
  private Times() {}

  /** A {@code google.protobuf.Duration} for {@code TokenRequest.lifetime} or {@code new_session_window}. */
  public static com.google.protobuf.Duration toProto(Duration duration) {
    Objects.requireNonNull(duration, "duration");
    return com.google.protobuf.Duration.newBuilder()
        .setSeconds(duration.getSeconds())
        .setNanos(duration.getNano())
        .build();
  }

  /** A {@code google.protobuf.Duration} as a {@link Duration}. */
  public static Duration toDuration(com.google.protobuf.Duration duration) {
    Objects.requireNonNull(duration, "duration");
    return Duration.ofSeconds(duration.getSeconds(), duration.getNanos());
  }

  /** A {@code google.protobuf.Timestamp} as an {@link Instant}. */
  public static Instant toInstant(Timestamp timestamp) {
    Objects.requireNonNull(timestamp, "timestamp");
    return Instant.ofEpochSecond(timestamp.getSeconds(), timestamp.getNanos());
  }

  /** When the token stops working ({@code Token.expire_time}). */
  public static Instant expireTime(Token token) {
    return toInstant(Objects.requireNonNull(token, "token").getExpireTime());
  }

  /** The last moment the token can start a new Live session ({@code Token.new_session_expire_time}). */
  public static Instant newSessionExpireTime(Token token) {
    return toInstant(Objects.requireNonNull(token, "token").getNewSessionExpireTime());
  }
}
