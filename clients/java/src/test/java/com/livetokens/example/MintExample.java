package com.livetokens.example;

import com.livetokens.client.ErrorDetails;
import com.livetokens.client.LiveTokensClient;
import com.livetokens.client.Times;
import com.livetokens.v1.ErrorReason;
import com.livetokens.v1.LiveConfig;
import com.livetokens.v1.LiveConstraints;
import com.livetokens.v1.Modality;
import com.livetokens.v1.SessionResumptionConfig;
import com.livetokens.v1.Token;
import com.livetokens.v1.TokenRequest;
import io.grpc.StatusRuntimeException;
import java.time.Duration;

/** Mints a token through livetokens at $LIVETOKENS_TARGET, then decodes a rejected request. */
public final class MintExample {
  private MintExample() {}

  public static void main(String[] args) {
    String target = System.getenv().getOrDefault("LIVETOKENS_TARGET", "127.0.0.1:50051");
    // usePlaintext() only for a server on loopback. In production leave it out (TLS with the
    // system roots) and add trustCertificates, clientCertificate (mutual TLS) or bearerToken
    // as your livetokens requires.
    try (LiveTokensClient client = LiveTokensClient.newBuilder(target).usePlaintext().build()) {
      TokenRequest request = TokenRequest.newBuilder()
          .setConstraints(LiveConstraints.newBuilder()
              .setModel("gemini-live-2.5-flash-preview")
              .setConfig(LiveConfig.newBuilder()
                  .addResponseModalities(Modality.MODALITY_AUDIO)
                  .setTemperature(0.7f)
                  .setSessionResumption(SessionResumptionConfig.getDefaultInstance())))
          .setLifetime(Times.toProto(Duration.ofMinutes(10)))
          .setUses(2)
          .build();
      Token token = client.mintToken(request, Duration.ofSeconds(5));
      // token.getName() is the credential: hand it to the app, never print or log it.
      System.out.println("name: " + token.getName().split("/", 2)[0] + "/...(redacted)");
      System.out.println("expires: " + Times.expireTime(token));
      System.out.println("fingerprint: " + token.getFingerprint());

      try { // invalid: the server names the field
        client.mintToken(request.toBuilder().setUses(-1).build(), Duration.ofSeconds(5));
      } catch (StatusRuntimeException e) {
        ErrorDetails details = ErrorDetails.from(e);
        System.out.println("rejected: " + details.code() + " " + details.reason());
        if (details.errorReason() == ErrorReason.ERROR_REASON_INVALID_REQUEST) {
          for (ErrorDetails.FieldViolation violation : details.fieldViolations()) {
            System.out.println("violation: " + violation.field() + ": " + violation.description());
          }
        }
      }
    }
  }
}
