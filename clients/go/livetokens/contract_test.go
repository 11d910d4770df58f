//go:build contract

// The contract scenario, the same in every client language, against a live livetokens
// server. Run it under the harness, which starts the upstream emulator and the server:
//
//	.venv/bin/python tools/with_livetokens.py -- go test -tags contract ./...
//
// Failure messages never print Token.Name (a live credential); they print fingerprints.
package livetokens_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/livetokens/livetokens/clients/go/livetokens"
	livetokensv1 "github.com/livetokens/livetokens/clients/go/livetokensv1"
)

// requireEnv returns the variable the harness exports, failing the test (never
// skipping it) when it is missing.
func requireEnv(t *testing.T, name string) string {
	t.Helper()
	value := os.Getenv(name)
	if value == "" {
		t.Fatalf("%s is not set: run the contract tests under tools/with_livetokens.py", name)
	}
	return value
}

func contractClient(t *testing.T) *livetokens.Client {
	t.Helper()
	client, err := livetokens.NewClient(requireEnv(t, "LIVETOKENS_TARGET"), livetokens.WithInsecure())
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// seedConstraints are the scenario's constraints with the given temperature.
func seedConstraints(temperature float32) *livetokensv1.LiveConstraints {
	return &livetokensv1.LiveConstraints{
		Model: "gemini-live-2.5-flash-preview",
		Config: &livetokensv1.LiveConfig{
			ResponseModalities: []livetokensv1.Modality{livetokensv1.Modality_MODALITY_AUDIO},
			Temperature:        proto.Float32(temperature),
			SessionResumption:  &livetokensv1.SessionResumptionConfig{},
		},
	}
}

func mintLive(t *testing.T, client *livetokens.Client, req *livetokensv1.TokenRequest) *livetokensv1.Token {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	token, err := client.MintToken(ctx, req)
	if err != nil {
		d := livetokens.Details(err)
		t.Fatalf("MintToken: %v %s %q %+v", d.Code, d.Reason, d.Message, d.FieldViolations)
	}
	return token
}

// checkNear fails unless ts is within 2 minutes of want (a value check on the
// server's arithmetic, not a timing assertion).
func checkNear(t *testing.T, field string, ts *timestamppb.Timestamp, want time.Time) {
	t.Helper()
	if !ts.IsValid() {
		t.Errorf("%s = %v, want a valid timestamp", field, ts)
		return
	}
	if diff := ts.AsTime().Sub(want).Abs(); diff > 2*time.Minute {
		t.Errorf("%s = %v, want %v ± 2m", field, ts.AsTime(), want)
	}
}

func TestContractMintWithSeedConstraints(t *testing.T) {
	// The seed constraints without a lock mint a fully locked 1-use token with the documented defaults.
	client := contractClient(t)
	token := mintLive(t, client, &livetokensv1.TokenRequest{Constraints: seedConstraints(0.7)})
	now := time.Now()
	if !strings.HasPrefix(token.GetName(), "auth_tokens/") {
		t.Errorf("name does not start with auth_tokens/ (fingerprint %s)", token.GetFingerprint())
	}
	checkNear(t, "expire_time", token.GetExpireTime(), now.Add(30*time.Minute))
	checkNear(t, "new_session_expire_time", token.GetNewSessionExpireTime(), now.Add(time.Minute))
	if token.GetUses() != 1 {
		t.Errorf("uses = %d, want 1", token.GetUses())
	}
	if !token.GetLock().GetWholeSetup() || len(token.GetLock().GetFieldPaths()) != 0 {
		t.Errorf("lock = %v, want whole_setup and no field_paths", token.GetLock())
	}
	if token.GetModel() != "models/gemini-live-2.5-flash-preview" {
		t.Errorf("model = %q, want models/gemini-live-2.5-flash-preview", token.GetModel())
	}
	if !strings.HasPrefix(token.GetFingerprint(), "hmac-sha256:") {
		t.Errorf("fingerprint = %q, want the hmac-sha256: prefix", token.GetFingerprint())
	}
	if !strings.HasSuffix(token.GetWebsocketUrl(), "BidiGenerateContentConstrained") {
		t.Errorf("websocket_url = %q, want the ...BidiGenerateContentConstrained method", token.GetWebsocketUrl())
	}
	if token.GetApiVersion() != "v1alpha" {
		t.Errorf("api_version = %q, want v1alpha", token.GetApiVersion())
	}
}

func TestContractLockSetFields(t *testing.T) {
	// LOCK_MODE_SET_FIELDS locks the set fields in server order, then the additional fields.
	client := contractClient(t)
	token := mintLive(t, client, &livetokensv1.TokenRequest{
		Constraints: seedConstraints(0.7),
		Lock: &livetokensv1.Lock{
			Mode:             livetokensv1.LockMode_LOCK_MODE_SET_FIELDS,
			AdditionalFields: []livetokensv1.LockableField{livetokensv1.LockableField_LOCKABLE_FIELD_OUTPUT_AUDIO_TRANSCRIPTION},
		},
	})
	want := []string{"model", "generationConfig.responseModalities", "generationConfig.temperature", "sessionResumption", "outputAudioTranscription"}
	if token.GetLock().GetWholeSetup() || !slices.Equal(token.GetLock().GetFieldPaths(), want) {
		t.Errorf("lock = %v, want whole_setup false and field_paths %q", token.GetLock(), want)
	}
}

func TestContractInvalidTemperature(t *testing.T) {
	// Temperature 5.0 is INVALID_ARGUMENT / INVALID_REQUEST with a violation on constraints.config.temperature.
	client := contractClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	token, err := client.MintToken(ctx, &livetokensv1.TokenRequest{Constraints: seedConstraints(5.0)})
	if err == nil {
		t.Fatalf("MintToken succeeded (fingerprint %s), want INVALID_ARGUMENT", token.GetFingerprint())
	}
	d := livetokens.Details(err)
	if d.Code != codes.InvalidArgument || d.Reason != "INVALID_REQUEST" || d.Domain != "livetokens.v1.TokenService" {
		t.Errorf("code, reason, domain = %v, %q, %q; want InvalidArgument, INVALID_REQUEST, livetokens.v1.TokenService", d.Code, d.Reason, d.Domain)
	}
	if !slices.ContainsFunc(d.FieldViolations, func(v livetokens.FieldViolation) bool { return v.Field == "constraints.config.temperature" }) {
		t.Errorf("field violations = %+v, want one on constraints.config.temperature", d.FieldViolations)
	}
}

func TestContractDeadline(t *testing.T) {
	// A 500 ms deadline on a model the emulator answers after 3 s ends in DEADLINE_EXCEEDED.
	client := contractClient(t)
	slowModel := requireEnv(t, "LIVETOKENS_SLOW_MODEL")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	token, err := client.MintToken(ctx, &livetokensv1.TokenRequest{Constraints: &livetokensv1.LiveConstraints{Model: slowModel}})
	if err == nil {
		t.Fatalf("MintToken succeeded (fingerprint %s), want DEADLINE_EXCEEDED", token.GetFingerprint())
	}
	if d := livetokens.Details(err); d.Code != codes.DeadlineExceeded {
		t.Errorf("code = %v (%q), want DeadlineExceeded", d.Code, d.Message)
	}
}

func TestContractRequestIDDeduplicates(t *testing.T) {
	// The same request with the same fresh request_id twice returns the same token.
	client := contractClient(t)
	req := &livetokensv1.TokenRequest{Constraints: seedConstraints(0.7), RequestId: livetokens.NewRequestID()}
	first := mintLive(t, client, req)
	second := mintLive(t, client, req)
	if first.GetFingerprint() != second.GetFingerprint() {
		t.Errorf("fingerprints %s and %s differ, want the same token", first.GetFingerprint(), second.GetFingerprint())
	}
	if first.GetName() != second.GetName() {
		t.Errorf("names differ (fingerprints %s, %s), want the same token", first.GetFingerprint(), second.GetFingerprint())
	}
}

// secureClient is a client of the harness server named by targetVar, with opts.
func secureClient(t *testing.T, targetVar string, opts ...livetokens.Option) *livetokens.Client {
	t.Helper()
	client, err := livetokens.NewClient(requireEnv(t, targetVar), opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func TestContractMutualTLSFromFiles(t *testing.T) {
	// WithCAFile and WithClientCertificate mint from the live server that requires client certificates.
	client := secureClient(t, "LIVETOKENS_MTLS_TARGET", livetokens.WithCAFile(requireEnv(t, "LIVETOKENS_CA_FILE")),
		livetokens.WithClientCertificate(requireEnv(t, "LIVETOKENS_CLIENT_CERT"), requireEnv(t, "LIVETOKENS_CLIENT_KEY")))
	token := mintLive(t, client, &livetokensv1.TokenRequest{Constraints: seedConstraints(0.7)})
	if !strings.HasPrefix(token.GetFingerprint(), "hmac-sha256:") {
		t.Errorf("fingerprint %q", token.GetFingerprint())
	}
}

func TestContractBearerOverTLS(t *testing.T) {
	// WithBearerToken mints from the live TLS server; without it the error is UNAUTHENTICATED / ERROR_REASON_UNAUTHENTICATED.
	ca := livetokens.WithCAFile(requireEnv(t, "LIVETOKENS_CA_FILE"))
	client := secureClient(t, "LIVETOKENS_TLS_TARGET", ca, livetokens.WithBearerToken(requireEnv(t, "LIVETOKENS_BEARER_TOKEN")))
	mintLive(t, client, &livetokensv1.TokenRequest{Constraints: seedConstraints(0.7)})

	anonymous := secureClient(t, "LIVETOKENS_TLS_TARGET", ca)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := anonymous.MintToken(ctx, &livetokensv1.TokenRequest{Constraints: seedConstraints(0.7)})
	d := livetokens.Details(err)
	if d == nil || d.Code != codes.Unauthenticated || d.ErrorReason != livetokensv1.ErrorReason_ERROR_REASON_UNAUTHENTICATED {
		t.Errorf("without a bearer token: %+v", d)
	}
}

func TestContractUntrustedServerCertificateIsUnavailable(t *testing.T) {
	// With the system roots the harness CA is not trusted: the handshake fails as codes.Unavailable, no ErrorReason.
	client := secureClient(t, "LIVETOKENS_TLS_TARGET", livetokens.WithBearerToken(requireEnv(t, "LIVETOKENS_BEARER_TOKEN")))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := client.MintToken(ctx, &livetokensv1.TokenRequest{})
	d := livetokens.Details(err)
	if d == nil || d.Code != codes.Unavailable || d.ErrorReason != livetokensv1.ErrorReason_ERROR_REASON_UNSPECIFIED {
		t.Errorf("untrusted certificate: %+v", d)
	}
}
