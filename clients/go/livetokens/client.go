// Package livetokens is the Go client of livetokens, the internal service that mints
// Gemini Live API ephemeral tokens.
//
// A backend service dials livetokens once, mints a token per app session and hands
// Token.Name (a secret: never log it, log Token.Fingerprint) to the one app that
// asked for it:
//
//	client, err := livetokens.Dial("livetokens.internal:443")
//	...
//	token, err := client.MintToken(ctx, &livetokensv1.TokenRequest{...})
//
// Errors are gRPC status errors; Details decodes their google.rpc details.
package livetokens

import (
	"context"
	"crypto/rand"
	_ "embed" // for the service config
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	livetokensv1 "github.com/livetokens/livetokens/clients/go/livetokensv1"
)

// serviceConfig is the gRPC service config every livetokens client uses: a 10 s
// deadline at most and up to 3 attempts on UNAVAILABLE only, never hedging. The file
// is a copy of clients/service_config.json, refreshed by `make generate`.
//
//go:embed service_config.json
var serviceConfig string

// Client mints tokens over one gRPC connection. It is safe for concurrent use;
// create one per process and Close it when done.
type Client struct {
	conn *grpc.ClientConn
	stub livetokensv1.TokenServiceClient
}

type options struct {
	creds       credentials.TransportCredentials
	dialOptions []grpc.DialOption
}

// Option configures Dial.
type Option func(*options)

// WithInsecure connects in plaintext, for a server on loopback or in tests. Without
// it (or WithTransportCredentials) Dial uses TLS with the system's root CAs.
func WithInsecure() Option {
	return func(o *options) { o.creds = insecure.NewCredentials() }
}

// WithTransportCredentials connects with the given credentials (for example mTLS).
func WithTransportCredentials(creds credentials.TransportCredentials) Option {
	return func(o *options) { o.creds = creds }
}

// WithDialOptions adds gRPC dial options (interceptors, per-RPC credentials, a
// custom dialer). They are applied after the client's own, so they can override
// them; overriding the service config is not supported.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOptions = append(o.dialOptions, opts...) }
}

// Dial creates a client for target (a gRPC target such as "host:port" or
// "dns:///host:port"). Like grpc.NewClient it does not connect yet: the first
// MintToken does. The livetokens service config (retry on UNAVAILABLE only, at most 3
// attempts, at most a 10 s deadline) is always used; configs from the name resolver
// are ignored.
func Dial(target string, opts ...Option) (*Client, error) {
	o := options{creds: credentials.NewTLS(nil)}
	for _, opt := range opts {
		opt(&o)
	}
	dialOptions := append([]grpc.DialOption{
		grpc.WithTransportCredentials(o.creds),
		grpc.WithDefaultServiceConfig(serviceConfig),
		grpc.WithDisableServiceConfig(),
	}, o.dialOptions...)
	conn, err := grpc.NewClient(target, dialOptions...)
	if err != nil {
		return nil, fmt.Errorf("livetokens: dial %q: %w", target, err)
	}
	return &Client{conn: conn, stub: livetokensv1.NewTokenServiceClient(conn)}, nil
}

// MintToken mints one ephemeral token. A request without a request_id is sent with a
// fresh UUID4 one, so that the transport's retries (on UNAVAILABLE, per the service
// config) are deduplicated by the server; req itself is not modified. To retry a
// failed call yourself without minting twice, set RequestId and reuse the request.
//
// The error, if any, is a gRPC status error; decode it with Details.
func (c *Client) MintToken(ctx context.Context, req *livetokensv1.TokenRequest, opts ...grpc.CallOption) (*livetokensv1.Token, error) {
	if req == nil {
		req = &livetokensv1.TokenRequest{}
	}
	if req.GetRequestId() == "" {
		req = proto.CloneOf(req)
		req.RequestId = NewRequestID()
	}
	return c.stub.MintToken(ctx, req, opts...)
}

// Close closes the connection. Calls in flight fail with codes.Canceled.
func (c *Client) Close() error {
	return c.conn.Close()
}

// NewRequestID returns a random (version 4, RFC 9562) UUID in its canonical form,
// for TokenRequest.RequestId when the caller retries a mint itself.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])  // never fails: crypto/rand.Read crashes the program instead
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // variant RFC 9562
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
