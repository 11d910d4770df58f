package com.livetokens.example;

import com.livetokens.client.ErrorDetails;
import com.livetokens.client.LiveTokensClient;
import com.livetokens.v1.LiveConfig;
import com.livetokens.v1.LiveConstraints;
import com.livetokens.v1.Modality;
import com.livetokens.v1.Token;
import com.livetokens.v1.TokenRequest;
import io.grpc.StatusRuntimeException;
import java.time.Duration;

public final class MintExample {
  /** Mints a token for one audio Live session and hands it to the app (here: returns it). */
  public static Token mint(String target) {
    // usePlaintext() for a local server; without it the client uses TLS.
    try (LiveTokensClient client = LiveTokensClient.newBuilder(target).usePlaintext().build()) {
      TokenRequest request = TokenRequest.newBuilder()
          .setConstraints(LiveConstraints.newBuilder()
              .setModel("gemini-live-2.5-flash-preview")
              .setConfig(LiveConfig.newBuilder().addResponseModalities(Modality.MODALITY_AUDIO)))
          .build();
      Token token = client.mintToken(request, Duration.ofSeconds(5));
      // Log the fingerprint, never token.getName(): the name is the credential.
      System.out.println("minted " + token.getFingerprint() + " for " + token.getModel());
      return token;
    } catch (StatusRuntimeException e) {
      ErrorDetails details = ErrorDetails.from(e);
      System.err.println("mint failed: " + details.code() + " " + details.reason()
          + " " + details.fieldViolations());
      throw e;
    }
  }

  public static void main(String[] args) {
    mint(args.length > 0 ? args[0] : "127.0.0.1:50051");
  }
}
