package com.livetokens.client;

import com.livetokens.v1.Token;
import com.livetokens.v1.TokenRequest;
import com.livetokens.v1.TokenServiceGrpc;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * An in-process TokenService that answers with a script (failures first, then a token) and
 * records every request it receives, attempt by attempt.
 */
final class FakeTokenService extends TokenServiceGrpc.TokenServiceImplBase {
  private final Deque<StatusRuntimeException> failures = new ArrayDeque<>();
  private final List<TokenRequest> received = new ArrayList<>();

  /** Fails the next call with {@code error}; queued failures are used in order. */
  synchronized FakeTokenService failNext(StatusRuntimeException error) {
    failures.add(error);
    return this;
  }

  /** Every request received so far, one per attempt. */
  synchronized List<TokenRequest> received() {
    return List.copyOf(received);
  }

  @Override
  public void mintToken(TokenRequest request, StreamObserver<Token> responseObserver) {
    StatusRuntimeException failure;
    synchronized (this) {
      received.add(request);
      failure = failures.poll();
    }
    if (failure != null) {
      responseObserver.onError(failure);
      return;
    }
    responseObserver.onNext(
        Token.newBuilder()
            .setName("auth_tokens/fake")
            .setFingerprint("hmac-sha256:" + request.getRequestId())
            .setUses(1)
            .build());
    responseObserver.onCompleted();
  }
}
