// Package livetokens is the Go client of livetokens, the internal service that mints
// Gemini Live API ephemeral tokens.
//
// A backend service creates one Client, mints a token per app session and hands
// Token.Name (a secret: never log it, log Token.Fingerprint) to the one app that
// asked for it:
//
//	client, err := livetokens.NewClient("livetokens.internal:443",
//		livetokens.WithCAFile("ca.pem"), livetokens.WithClientCertificate("me.pem", "me-key.pem"))
//	...
//	token, err := client.MintToken(ctx, &livetokensv1.TokenRequest{...})
//
// Errors are gRPC status errors; Details decodes their google.rpc details, and
// d.ErrorReason compares with the livetokensv1.ErrorReason_ERROR_REASON_* constants.
package livetokens

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	_ "embed" // for the service config
	"errors"
	"fmt"
	"os"

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
	plaintext   bool
	caFile      string
	certFile    string
	keyFile     string
	bearer      string
	dialOptions []grpc.DialOption
}

// Option configures NewClient.
type Option func(*options)

// WithInsecure connects in plaintext, for a server on loopback or in tests. Without
// it NewClient uses TLS with the system's root CAs (or WithCAFile's).
func WithInsecure() Option {
	return func(o *options) { o.plaintext = true }
}

// WithCAFile trusts the CA certificates in the PEM file instead of the system's
// roots, for a livetokens whose certificate a private CA signed.
func WithCAFile(path string) Option {
	return func(o *options) { o.caFile = path }
}

// WithClientCertificate presents the certificate chain and private key in these PEM
// files (mutual TLS): livetokens identifies the caller by the certificate's SANs.
func WithClientCertificate(certFile, keyFile string) Option {
	return func(o *options) { o.certFile, o.keyFile = certFile, keyFile }
}

// WithBearerToken sends "authorization: Bearer <token>" with every call. The token
// is a secret: the client sends it only over TLS (with WithInsecure, NewClient fails).
func WithBearerToken(token string) Option {
	return func(o *options) { o.bearer = token }
}

// WithTransportCredentials connects with the given credentials instead of the TLS
// configuration the other options build.
func WithTransportCredentials(creds credentials.TransportCredentials) Option {
	return func(o *options) { o.creds = creds }
}

// WithDialOptions adds gRPC dial options (interceptors, per-RPC credentials, a
// custom dialer). They are applied after the client's own, so they can override
// them; overriding the service config is not supported.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOptions = append(o.dialOptions, opts...) }
}

// transportCredentials builds the credentials the options ask for.
func (o *options) transportCredentials() (credentials.TransportCredentials, error) {
	tlsFiles := o.caFile != "" || o.certFile != "" || o.keyFile != ""
	switch {
	case o.creds != nil && (o.plaintext || tlsFiles):
		return nil, errors.New("WithTransportCredentials excludes WithInsecure, WithCAFile and WithClientCertificate")
	case o.creds != nil:
		return o.creds, nil
	case o.plaintext && tlsFiles:
		return nil, errors.New("WithInsecure excludes WithCAFile and WithClientCertificate")
	case o.plaintext && o.bearer != "":
		return nil, errors.New("WithBearerToken needs TLS: the token would travel in plaintext")
	case o.plaintext:
		return insecure.NewCredentials(), nil
	}
	config := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		config.RootCAs = x509.NewCertPool()
		if !config.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", o.caFile)
		}
	}
	if (o.certFile == "") != (o.keyFile == "") {
		return nil, errors.New("WithClientCertificate needs both the certificate and the key file")
	}
	if o.certFile != "" {
		pair, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		config.Certificates = []tls.Certificate{pair}
	}
	return credentials.NewTLS(config), nil
}

// bearerToken is grpc.PerRPCCredentials for WithBearerToken.
type bearerToken string

func (b bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearerToken) RequireTransportSecurity() bool { return true }

// NewClient creates a client for target (a gRPC target such as "host:port" or
// "dns:///host:port"). Like grpc.NewClient it does not connect yet: the first
// MintToken does, so an unreachable server shows up there as codes.Unavailable. It
// fails only on bad options (for example a CA file that cannot be read). The
// livetokens service config (retry on UNAVAILABLE only, at most 3 attempts, at most a
// 10 s deadline) is always used; configs from the name resolver are ignored.
func NewClient(target string, opts ...Option) (*Client, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	creds, err := o.transportCredentials()
	if err != nil {
		return nil, fmt.Errorf("livetokens: %w", err)
	}
	dialOptions := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultServiceConfig(serviceConfig),
		grpc.WithDisableServiceConfig(),
	}
	if o.bearer != "" {
		dialOptions = append(dialOptions, grpc.WithPerRPCCredentials(bearerToken(o.bearer)))
	}
	conn, err := grpc.NewClient(target, append(dialOptions, o.dialOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("livetokens: client for %q: %w", target, err)
	}
	return &Client{conn: conn, stub: livetokensv1.NewTokenServiceClient(conn)}, nil
}

// Dial is NewClient under its old name.
//
// Deprecated: Dial never dialled (the first call connects); use NewClient.
func Dial(target string, opts ...Option) (*Client, error) {
	return NewClient(target, opts...)
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
