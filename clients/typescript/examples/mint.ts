import { Code, createLiveTokensClient, ErrorReason, errorDetails, expireTime, Modality, seconds } from "@livetokens/client";

// plaintext only for a server on loopback. In production leave it out (TLS with Node's
// roots) and add caFile, certFile and keyFile (mutual TLS) or bearerToken as your
// livetokens requires.
const client = createLiveTokensClient(process.env["LIVETOKENS_TARGET"] ?? "127.0.0.1:50051", { plaintext: true });
try {
  const request = {
    constraints: {
      model: "gemini-live-2.5-flash-preview",
      config: { responseModalities: [Modality.AUDIO], temperature: 0.7, sessionResumption: {} },
    },
    lifetime: seconds(10 * 60),
    uses: 2,
  };
  const token = await client.mintToken(request, { timeoutMs: 5000 });
  // token.name is the credential: hand it to the app, never print or log it.
  console.log(`name: ${token.name.split("/")[0]}/...(redacted)`);
  console.log(`expires: ${expireTime(token).toISOString()}`);
  console.log(`fingerprint: ${token.fingerprint}`);

  try {
    await client.mintToken({ ...request, uses: -1 }, { timeoutMs: 5000 }); // invalid: the server names the field
  } catch (err) {
    const details = errorDetails(err);
    console.log(`rejected: ${Code[details.code]} ${details.reason}`);
    if (details.errorReason === ErrorReason.INVALID_REQUEST) {
      for (const violation of details.fieldViolations) {
        console.log(`violation: ${violation.field}: ${violation.description}`);
      }
    }
  }
} finally {
  client.close();
}
