import { Code, createLiveTokensClient, errorDetails, Modality } from "@livetokens/client";

const target = process.env["LIVETOKENS_TARGET"] ?? "127.0.0.1:50051";
const client = createLiveTokensClient(target, { plaintext: true }); // loopback; TLS is the default
try {
  const token = await client.mintToken(
    { constraints: { model: "gemini-live-2.5-flash-preview", config: { responseModalities: [Modality.AUDIO] } } },
    { timeoutMs: 5000 },
  );
  // token.name is the credential: hand it to the app, never log it (log the fingerprint).
  console.log(`minted ${token.fingerprint} for ${token.model}, ${token.uses} use(s)`);
} catch (err) {
  const { code, reason, fieldViolations } = errorDetails(err);
  console.error(`mint failed: ${Code[code]} ${reason}`, fieldViolations);
  process.exitCode = 1;
} finally {
  client.close();
}
