package livetokens_test

import (
	"context"
	"errors"
	"net"
	"regexp"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/livetokens/livetokens/clients/go/livetokens"
	livetokensv1 "github.com/livetokens/livetokens/clients/go/livetokensv1"
)

var uuid4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// fakeServer records every request it gets and answers the n-th one (from 0) with
// fail(n) when that is not nil, or with a token otherwise.
type fakeServer struct {
	livetokensv1.UnimplementedTokenServiceServer
	fail func(n int) error

	mu       sync.Mutex
	requests []*livetokensv1.TokenRequest
}

func (f *fakeServer) MintToken(_ context.Context, req *livetokensv1.TokenRequest) (*livetokensv1.Token, error) {
	f.mu.Lock()
	n := len(f.requests)
	f.requests = append(f.requests, req)
	f.mu.Unlock()
	if f.fail != nil {
		if err := f.fail(n); err != nil {
			return nil, err
		}
	}
	return &livetokensv1.Token{Name: "auth_tokens/fake", Fingerprint: "hmac-sha256:" + req.GetRequestId()}, nil
}

func (f *fakeServer) received() []*livetokensv1.TokenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*livetokensv1.TokenRequest(nil), f.requests...)
}

// start serves f on an in-memory listener and returns a client dialled to it with
// opts (plaintext unless opts say otherwise).
func start(t *testing.T, f *fakeServer, opts ...livetokens.Option) *livetokens.Client {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	livetokensv1.RegisterTokenServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	dialer := grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) })
	opts = append([]livetokens.Option{livetokens.WithInsecure()}, opts...)
	client, err := livetokens.NewClient("passthrough:///bufnet", append(opts, livetokens.WithDialOptions(dialer))...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func mint(t *testing.T, client *livetokens.Client, req *livetokensv1.TokenRequest) (*livetokensv1.Token, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return client.MintToken(ctx, req)
}

func TestMintTokenAddsAFreshUUID4RequestID(t *testing.T) {
	// A request without request_id is sent with a new UUID4 each call; the caller's message is left as it was.
	f := &fakeServer{}
	client := start(t, f)
	req := &livetokensv1.TokenRequest{Constraints: &livetokensv1.LiveConstraints{Model: "gemini-live-2.5-flash-preview"}}
	before := proto.Clone(req)
	for range 2 {
		if _, err := mint(t, client, req); err != nil {
			t.Fatalf("MintToken: %v", err)
		}
	}
	if !proto.Equal(req, before) {
		t.Errorf("MintToken modified the caller's request: %v", req)
	}
	got := f.received()
	for _, r := range got {
		if !uuid4.MatchString(r.GetRequestId()) {
			t.Errorf("request_id %q is not a canonical UUID4", r.GetRequestId())
		}
		if r.GetConstraints().GetModel() != "gemini-live-2.5-flash-preview" {
			t.Errorf("the rest of the request was not sent: %v", r)
		}
	}
	if got[0].GetRequestId() == got[1].GetRequestId() {
		t.Errorf("two calls reused request_id %q", got[0].GetRequestId())
	}
}

func TestNewRequestIDIsARandomUUID4(t *testing.T) {
	// NewRequestID returns canonical UUID4s (version and variant bits set), never the same twice.
	seen := map[string]bool{}
	for range 1000 {
		id := livetokens.NewRequestID()
		if !uuid4.MatchString(id) {
			t.Fatalf("NewRequestID() = %q, not a canonical UUID4", id)
		}
		if seen[id] {
			t.Fatalf("NewRequestID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestMintTokenKeepsTheCallersRequestID(t *testing.T) {
	// A request_id set by the caller is sent unchanged.
	f := &fakeServer{}
	client := start(t, f)
	const id = "6f1c8a52-4a8e-4d0b-9a55-0b0c3a8f4f1e"
	if _, err := mint(t, client, &livetokensv1.TokenRequest{RequestId: id}); err != nil {
		t.Fatalf("MintToken: %v", err)
	}
	if got := f.received()[0].GetRequestId(); got != id {
		t.Errorf("request_id = %q, want %q", got, id)
	}
}

func TestMintTokenAcceptsANilRequest(t *testing.T) {
	// A nil request is the empty TokenRequest (an unconstrained token), with a request_id.
	f := &fakeServer{}
	client := start(t, f)
	if _, err := mint(t, client, nil); err != nil {
		t.Fatalf("MintToken: %v", err)
	}
	if got := f.received()[0]; !uuid4.MatchString(got.GetRequestId()) || got.GetConstraints() != nil {
		t.Errorf("sent %v, want an empty request with a request_id", got)
	}
}

func TestUnavailableIsRetriedWithTheSameRequestID(t *testing.T) {
	// The service config retries UNAVAILABLE, and every attempt carries the one generated request_id.
	f := &fakeServer{fail: func(n int) error {
		if n < 2 {
			return status.Error(codes.Unavailable, "try again")
		}
		return nil
	}}
	client := start(t, f)
	token, err := mint(t, client, &livetokensv1.TokenRequest{})
	if err != nil {
		t.Fatalf("MintToken: %v", err)
	}
	got := f.received()
	if len(got) != 3 {
		t.Fatalf("server got %d attempts, want 3", len(got))
	}
	for _, r := range got[1:] {
		if r.GetRequestId() != got[0].GetRequestId() {
			t.Errorf("retry sent request_id %q, first attempt %q", r.GetRequestId(), got[0].GetRequestId())
		}
	}
	if token.GetFingerprint() != "hmac-sha256:"+got[0].GetRequestId() {
		t.Errorf("token %v is not the answer to the last attempt", token)
	}
}

func TestRetriesStopAfterThreeAttempts(t *testing.T) {
	// maxAttempts 3: a server that is always UNAVAILABLE sees three attempts and the caller gets UNAVAILABLE.
	f := &fakeServer{fail: func(int) error { return status.Error(codes.Unavailable, "down") }}
	client := start(t, f)
	_, err := mint(t, client, &livetokensv1.TokenRequest{})
	if code := status.Code(err); code != codes.Unavailable {
		t.Fatalf("code = %v, want Unavailable (err %v)", code, err)
	}
	if n := len(f.received()); n != 3 {
		t.Errorf("server got %d attempts, want 3", n)
	}
}

func TestOnlyUnavailableIsRetried(t *testing.T) {
	// Any other code reaches the caller after one attempt: a retry could mint a second live credential.
	for _, code := range []codes.Code{codes.ResourceExhausted, codes.DeadlineExceeded, codes.Internal, codes.InvalidArgument, codes.FailedPrecondition} {
		t.Run(code.String(), func(t *testing.T) {
			f := &fakeServer{fail: func(int) error { return status.Error(code, "no") }}
			client := start(t, f)
			_, err := mint(t, client, &livetokensv1.TokenRequest{})
			if got := status.Code(err); got != code {
				t.Fatalf("code = %v, want %v", got, code)
			}
			if n := len(f.received()); n != 1 {
				t.Errorf("server got %d attempts, want 1", n)
			}
		})
	}
}

func TestDialUsesTLSUnlessTold(t *testing.T) {
	// Without WithInsecure the client speaks TLS, so a plaintext server is never reached.
	f := &fakeServer{}
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	livetokensv1.RegisterTokenServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	dialer := grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) })
	client, err := livetokens.NewClient("passthrough:///bufnet", livetokens.WithDialOptions(dialer))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	_, err = mint(t, client, &livetokensv1.TokenRequest{})
	if code := status.Code(err); code != codes.Unavailable {
		t.Errorf("code = %v, want Unavailable from the failed TLS handshake (err %v)", code, err)
	}
	if n := len(f.received()); n != 0 {
		t.Errorf("plaintext server got %d requests over a TLS client", n)
	}
}

func TestDetailsSurviveTheWire(t *testing.T) {
	// ErrorInfo, BadRequest and RetryInfo sent by a server are decoded from the grpc-status-details-bin trailer.
	f := &fakeServer{fail: func(int) error { return richStatus(t).Err() }}
	client := start(t, f)
	_, err := mint(t, client, &livetokensv1.TokenRequest{})
	checkRichDetails(t, livetokens.Details(err))
}

func TestDetailsDecodesAHandBuiltStatus(t *testing.T) {
	// Details reads code, message, ErrorInfo, BadRequest and RetryInfo, also through error wrapping.
	err := richStatus(t).Err()
	checkRichDetails(t, livetokens.Details(err))
	wrapped := errors.Join(errors.New("minting for session 7"), err)
	checkRichDetails(t, livetokens.Details(wrapped))
}

func TestDetailsOfOtherErrors(t *testing.T) {
	// nil gives nil; context errors get their gRPC code; a status without details has an empty reason.
	if d := livetokens.Details(nil); d != nil {
		t.Errorf("Details(nil) = %+v, want nil", d)
	}
	if d := livetokens.Details(context.DeadlineExceeded); d.Code != codes.DeadlineExceeded || d.Reason != "" {
		t.Errorf("Details(context.DeadlineExceeded) = %+v", d)
	}
	if d := livetokens.Details(errors.New("boom")); d.Code != codes.Unknown {
		t.Errorf("Details(plain error).Code = %v, want Unknown", d.Code)
	}
	d := livetokens.Details(status.Error(codes.Unavailable, "down"))
	if d.Code != codes.Unavailable || d.Reason != "" || d.FieldViolations != nil || d.RetryDelay != 0 || d.Metadata != nil {
		t.Errorf("Details(bare status) = %+v", d)
	}
}

func richStatus(t *testing.T) *status.Status {
	t.Helper()
	s, err := status.New(codes.InvalidArgument, "2 fields are invalid").WithDetails(
		&errdetails.ErrorInfo{Reason: "INVALID_REQUEST", Domain: livetokens.Domain, Metadata: map[string]string{"violations": "2"}},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "constraints.config.temperature", Description: "must be at most 2.0", Reason: "OUT_OF_RANGE"},
			{Field: "constraints.config.tools[0].function_declarations[1].name", Description: "must not be empty"},
		}},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(1500 * time.Millisecond)},
	)
	if err != nil {
		t.Fatalf("WithDetails: %v", err)
	}
	return s
}

func checkRichDetails(t *testing.T, d *livetokens.ErrorDetails) {
	t.Helper()
	if d == nil {
		t.Fatal("Details = nil")
	}
	if d.Code != codes.InvalidArgument || d.Message != "2 fields are invalid" {
		t.Errorf("code, message = %v, %q", d.Code, d.Message)
	}
	if d.Reason != "INVALID_REQUEST" || d.Domain != "livetokens.v1.TokenService" || d.Metadata["violations"] != "2" {
		t.Errorf("reason, domain, metadata = %q, %q, %v", d.Reason, d.Domain, d.Metadata)
	}
	if d.ErrorReason != livetokensv1.ErrorReason_ERROR_REASON_INVALID_REQUEST {
		t.Errorf("ErrorReason = %v, want ERROR_REASON_INVALID_REQUEST", d.ErrorReason)
	}
	want := []livetokens.FieldViolation{
		{Field: "constraints.config.temperature", Description: "must be at most 2.0", Reason: "OUT_OF_RANGE"},
		{Field: "constraints.config.tools[0].function_declarations[1].name", Description: "must not be empty"},
	}
	if len(d.FieldViolations) != len(want) {
		t.Fatalf("field violations = %+v, want %+v", d.FieldViolations, want)
	}
	for i := range want {
		if d.FieldViolations[i] != want[i] {
			t.Errorf("field violation %d = %+v, want %+v", i, d.FieldViolations[i], want[i])
		}
	}
	if d.RetryDelay != 1500*time.Millisecond {
		t.Errorf("RetryDelay = %v, want 1.5s", d.RetryDelay)
	}
}
