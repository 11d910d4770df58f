package com.livetokens.client;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.gson.Gson;
import com.livetokens.v1.Token;
import com.livetokens.v1.TokenRequest;
import com.livetokens.v1.TokenServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * A client of {@code livetokens.v1.TokenService}: mints Gemini Live API ephemeral tokens.
 *
 * <p>The channel applies the livetokens service config ({@code clients/service_config.json}:
 * a 10 s default timeout, up to 3 attempts on {@code UNAVAILABLE} only, no hedging). Every
 * request without a {@code request_id} gets a fresh UUID4 one, so that a transport retry is
 * deduplicated by the server instead of minting a second token.
 *
 * <p>Calls fail with {@link io.grpc.StatusRuntimeException}; {@link ErrorDetails#from(Throwable)}
 * decodes the reason, the field violations and the retry delay. Close the client when done.
 *
 * <pre>{@code
 * try (LiveTokensClient client = LiveTokensClient.newBuilder("livetokens.internal:443")
 *     .trustCertificates(Path.of("ca.pem"))
 *     .clientCertificate(Path.of("me.pem"), Path.of("me-key.pem"))
 *     .build()) {
 *   Token token = client.mintToken(TokenRequest.getDefaultInstance(), Duration.ofSeconds(5));
 * }
 * }</pre>
 */
public final class LiveTokensClient implements AutoCloseable {
  private static final String SERVICE_CONFIG_RESOURCE = "service_config.json";
  private static final Duration SHUTDOWN_GRACE = Duration.ofSeconds(5);

  private final ManagedChannel channel;
  private final TokenServiceGrpc.TokenServiceBlockingStub blockingStub;
  private final TokenServiceGrpc.TokenServiceFutureStub futureStub;

  private LiveTokensClient(ManagedChannel channel) {
    this.channel = channel;
    this.blockingStub = TokenServiceGrpc.newBlockingStub(channel);
    this.futureStub = TokenServiceGrpc.newFutureStub(channel);
  }

  /**
   * A client of {@code target} (for example {@code dns:///livetokens.internal:443}) over TLS with
   * the system's trusted roots. Like every gRPC channel it connects on the first call.
   */
  public static LiveTokensClient create(String target) {
    return newBuilder(target).build();
  }

  /**
   * Starts building a client for {@code target}: TLS with the system's roots unless told
   * otherwise ({@link Builder#trustCertificates}, {@link Builder#clientCertificate}, {@link
   * Builder#usePlaintext()}).
   */
  public static Builder newBuilder(String target) {
    return new Builder(Objects.requireNonNull(target, "target"), null);
  }

  /**
   * Starts building a client on a channel builder of your own (custom credentials, interceptors,
   * an in-process transport). The service config and retries are applied to it by {@link
   * Builder#build()}; the TLS options of the builder do not apply to it.
   */
  public static Builder newBuilder(ManagedChannelBuilder<?> channelBuilder) {
    return new Builder(null, Objects.requireNonNull(channelBuilder, "channelBuilder"));
  }

  /** Builds a {@link LiveTokensClient}. */
  public static final class Builder {
    private final String target;
    private final ManagedChannelBuilder<?> channelBuilder;
    private boolean plaintext;
    private Path caFile;
    private Path certFile;
    private Path keyFile;
    private String bearerToken;

    private Builder(String target, ManagedChannelBuilder<?> channelBuilder) {
      this.target = target;
      this.channelBuilder = channelBuilder;
    }

    /** Talks plaintext HTTP/2, for a local server or inside a mesh that adds mTLS. */
    public Builder usePlaintext() {
      plaintext = true;
      return this;
    }

    /** Trusts the CA certificates in this PEM file instead of the system's roots (a private CA). */
    public Builder trustCertificates(Path caPem) {
      caFile = Objects.requireNonNull(caPem, "caPem");
      return this;
    }

    /**
     * Presents this PEM certificate chain and PEM (PKCS#8) private key: mutual TLS. livetokens
     * identifies the caller by the certificate's SANs.
     */
    public Builder clientCertificate(Path certPem, Path keyPem) {
      certFile = Objects.requireNonNull(certPem, "certPem");
      keyFile = Objects.requireNonNull(keyPem, "keyPem");
      return this;
    }

    /**
     * Sends {@code authorization: Bearer <token>} with every call. The token is a secret: only
     * over TLS ({@link #build()} refuses it with {@link #usePlaintext()}).
     */
    public Builder bearerToken(String token) {
      bearerToken = Objects.requireNonNull(token, "token");
      return this;
    }

    /**
     * Opens the channel with the livetokens service config and retries enabled.
     *
     * @throws IllegalStateException when the options contradict each other
     * @throws UncheckedIOException when a certificate or key file cannot be read
     */
    public LiveTokensClient build() {
      ManagedChannelBuilder<?> builder = channelBuilder;
      boolean tlsFiles = caFile != null || certFile != null;
      if (builder == null) {
        builder = Grpc.newChannelBuilder(target, credentials(tlsFiles));
      } else if (tlsFiles) {
        throw new IllegalStateException(
            "trustCertificates/clientCertificate apply only to newBuilder(String target)");
      } else if (plaintext) {
        builder.usePlaintext();
      }
      if (bearerToken != null) {
        if (plaintext) {
          throw new IllegalStateException("bearerToken needs TLS: the token would travel in plaintext");
        }
        builder.intercept(new BearerInterceptor(bearerToken));
      }
      ManagedChannel channel = builder.defaultServiceConfig(serviceConfig()).enableRetry().build();
      return new LiveTokensClient(channel);
    }

    private ChannelCredentials credentials(boolean tlsFiles) {
      if (plaintext) {
        if (tlsFiles) {
          throw new IllegalStateException("usePlaintext excludes trustCertificates/clientCertificate");
        }
        return InsecureChannelCredentials.create();
      }
      TlsChannelCredentials.Builder tls = TlsChannelCredentials.newBuilder();
      try {
        if (caFile != null) {
          tls.trustManager(caFile.toFile());
        }
        if (certFile != null) {
          tls.keyManager(certFile.toFile(), keyFile.toFile());
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read a TLS certificate or key file", e);
      }
      return tls.build();
    }
  }

  /** Adds the bearer token to every call's headers. */
  private static final class BearerInterceptor implements ClientInterceptor {
    private static final Metadata.Key<String> AUTHORIZATION =
        Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private final String value;

    BearerInterceptor(String token) {
      this.value = "Bearer " + token;
    }

    @Override
    public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
        MethodDescriptor<ReqT, RespT> method, CallOptions callOptions, Channel next) {
      return new ForwardingClientCall.SimpleForwardingClientCall<>(
          next.newCall(method, callOptions)) {
        @Override
        public void start(Listener<RespT> responseListener, Metadata headers) {
          headers.put(AUTHORIZATION, value);
          super.start(responseListener, headers);
        }
      };
    }
  }

  /**
   * Mints one token, waiting at most {@code deadline}.
   *
   * @throws io.grpc.StatusRuntimeException when the call fails; see {@link ErrorDetails#from}.
   */
  public Token mintToken(TokenRequest request, Duration deadline) {
    return blockingStub
        .withDeadlineAfter(nanos(deadline), TimeUnit.NANOSECONDS)
        .mintToken(withRequestId(request));
  }

  /**
   * Mints one token within the service config's default timeout (10 s).
   *
   * @throws io.grpc.StatusRuntimeException when the call fails; see {@link ErrorDetails#from}.
   */
  public Token mintToken(TokenRequest request) {
    return blockingStub.mintToken(withRequestId(request));
  }

  /**
   * Mints one token without blocking, waiting at most {@code deadline}. A failed future holds a
   * {@link io.grpc.StatusRuntimeException} ({@link ErrorDetails#from} accepts the {@link
   * java.util.concurrent.ExecutionException} that wraps it).
   */
  public ListenableFuture<Token> mintTokenAsync(TokenRequest request, Duration deadline) {
    return futureStub
        .withDeadlineAfter(nanos(deadline), TimeUnit.NANOSECONDS)
        .mintToken(withRequestId(request));
  }

  /** Mints one token without blocking, within the service config's default timeout (10 s). */
  public ListenableFuture<Token> mintTokenAsync(TokenRequest request) {
    return futureStub.mintToken(withRequestId(request));
  }

  /**
   * Stops new calls and waits up to 5 s for calls in flight, then cancels them. Interrupting
   * the waiting thread cancels them at once and keeps its interrupt flag.
   */
  @Override
  public void close() {
    channel.shutdown();
    try {
      if (!channel.awaitTermination(SHUTDOWN_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
        channel.shutdownNow();
      }
    } catch (InterruptedException e) {
      channel.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  private static long nanos(Duration deadline) {
    return Objects.requireNonNull(deadline, "deadline").toNanos();
  }

  /**
   * Returns {@code request} unchanged when it has a {@code request_id}, otherwise a copy with a
   * fresh UUID4 one, so that every attempt of one call carries the same id.
   */
  static TokenRequest withRequestId(TokenRequest request) {
    Objects.requireNonNull(request, "request");
    if (!request.getRequestId().isEmpty()) {
      return request;
    }
    return request.toBuilder().setRequestId(UUID.randomUUID().toString()).build();
  }

  /**
   * The livetokens gRPC service config ({@code clients/service_config.json}, packaged with this
   * class) in the form {@link ManagedChannelBuilder#defaultServiceConfig} takes. Use it when you
   * build your own channel for the generated stubs.
   */
  public static Map<String, ?> serviceConfig() {
    try (InputStream in = LiveTokensClient.class.getResourceAsStream(SERVICE_CONFIG_RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException(
            SERVICE_CONFIG_RESOURCE + " is missing from the classpath next to LiveTokensClient");
      }
      try (Reader reader = new InputStreamReader(in, StandardCharsets.UTF_8)) {
        // Gson reads JSON numbers as Double, objects as Map and arrays as List: the types that
        // defaultServiceConfig expects.
        @SuppressWarnings("unchecked")
        Map<String, ?> config = new Gson().fromJson(reader, Map.class);
        return config;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + SERVICE_CONFIG_RESOURCE, e);
    }
  }
}
