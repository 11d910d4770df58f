package livetokens_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/livetokens/livetokens/clients/go/livetokens"
	livetokensv1 "github.com/livetokens/livetokens/clients/go/livetokensv1"
)

func TestReasonNameAndParseReasonConvertEveryValue(t *testing.T) {
	// Every ErrorReason but UNSPECIFIED converts to its name minus ERROR_REASON_ and back.
	for number, name := range livetokensv1.ErrorReason_name {
		r := livetokensv1.ErrorReason(number)
		if r == livetokensv1.ErrorReason_ERROR_REASON_UNSPECIFIED {
			continue
		}
		wire := livetokens.ReasonName(r)
		if "ERROR_REASON_"+wire != name {
			t.Errorf("ReasonName(%v) = %q", r, wire)
		}
		if back := livetokens.ParseReason(wire); back != r {
			t.Errorf("ParseReason(%q) = %v, want %v", wire, back, r)
		}
	}
	if got := livetokens.ReasonName(livetokensv1.ErrorReason_ERROR_REASON_INVALID_REQUEST); got != "INVALID_REQUEST" {
		t.Errorf("ReasonName(INVALID_REQUEST) = %q", got)
	}
	for _, unknown := range []string{"", "NOT_A_REASON", "ERROR_REASON_INVALID_REQUEST"} {
		if got := livetokens.ParseReason(unknown); got != livetokensv1.ErrorReason_ERROR_REASON_UNSPECIFIED {
			t.Errorf("ParseReason(%q) = %v, want UNSPECIFIED", unknown, got)
		}
	}
	if got := livetokens.ReasonName(livetokensv1.ErrorReason(9999)); got != "" {
		t.Errorf("ReasonName(9999) = %q, want empty", got)
	}
}

func TestNewClientRefusesContradictoryOptions(t *testing.T) {
	// Plaintext with TLS files or a bearer token, or half a key pair, fail at NewClient naming the problem.
	cases := map[string][]livetokens.Option{
		"plaintext and CA":       {livetokens.WithInsecure(), livetokens.WithCAFile("ca.pem")},
		"plaintext and bearer":   {livetokens.WithInsecure(), livetokens.WithBearerToken("s3cret")},
		"cert without key":       {livetokens.WithClientCertificate("me.pem", "")},
		"missing CA file":        {livetokens.WithCAFile(filepath.Join(t.TempDir(), "absent.pem"))},
		"creds and client files": {livetokens.WithTransportCredentials(credentials.NewTLS(nil)), livetokens.WithClientCertificate("a", "b")},
	}
	for name, opts := range cases {
		if client, err := livetokens.NewClient("127.0.0.1:1", opts...); err == nil {
			_ = client.Close()
			t.Errorf("%s: NewClient succeeded", name)
		}
	}
}

// pki is a CA and the PEM files of a server and a client certificate it signed.
type pki struct {
	dir                       string
	caFile, certFile, keyFile string
	serverCert                tls.Certificate
	pool                      *x509.CertPool
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, usage x509.ExtKeyUsage, name string) ([]byte, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		template := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, DNSNames: []string{name},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, template, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, _ := x509.MarshalECPrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	}
	p := &pki{dir: dir, caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "client.pem"), keyFile: filepath.Join(dir, "client-key.pem")}
	p.pool = x509.NewCertPool()
	p.pool.AddCert(ca)
	write := func(path string, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(p.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	clientCert, clientKey := leaf(2, x509.ExtKeyUsageClientAuth, "caller.test")
	write(p.certFile, clientCert)
	write(p.keyFile, clientKey)
	serverCert, serverKey := leaf(3, x509.ExtKeyUsageServerAuth, "livetokens.test")
	if p.serverCert, err = tls.X509KeyPair(serverCert, serverKey); err != nil {
		t.Fatal(err)
	}
	return p
}

// serveMutualTLS serves f on 127.0.0.1:0 with p's server certificate, requiring a client
// certificate from p's CA; it records each call's client certificate name and authorization.
func serveMutualTLS(t *testing.T, p *pki, seen chan<- [2]string) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	config := &tls.Config{Certificates: []tls.Certificate{p.serverCert}, ClientCAs: p.pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	record := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		var name, auth string
		if pr, ok := peer.FromContext(ctx); ok {
			if info, ok := pr.AuthInfo.(credentials.TLSInfo); ok && len(info.State.PeerCertificates) > 0 {
				name = info.State.PeerCertificates[0].Subject.CommonName
			}
		}
		if md, ok := metadata.FromIncomingContext(ctx); ok && len(md.Get("authorization")) == 1 {
			auth = md.Get("authorization")[0]
		}
		seen <- [2]string{name, auth}
		return handler(ctx, req)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(config)), grpc.UnaryInterceptor(record))
	livetokensv1.RegisterTokenServiceServer(srv, &fakeServer{})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

func TestMutualTLSAndBearerFromFiles(t *testing.T) {
	// WithCAFile, WithClientCertificate and WithBearerToken reach a TLS server that requires a client certificate.
	p := newPKI(t)
	seen := make(chan [2]string, 1)
	target := serveMutualTLS(t, p, seen)
	client, err := livetokens.NewClient(target, livetokens.WithCAFile(p.caFile),
		livetokens.WithClientCertificate(p.certFile, p.keyFile), livetokens.WithBearerToken("s3cret"))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	if _, err := mint(t, client, &livetokensv1.TokenRequest{}); err != nil {
		t.Fatalf("MintToken over mutual TLS: %v", err)
	}
	if got := <-seen; got != [2]string{"caller.test", "Bearer s3cret"} {
		t.Errorf("server saw client certificate %q and authorization of %d bytes", got[0], len(got[1]))
	}
}

func TestTLSHandshakeFailureIsUnavailable(t *testing.T) {
	// A server certificate the client does not trust (system roots) fails the handshake as codes.Unavailable, as in every client.
	p := newPKI(t)
	target := serveMutualTLS(t, p, make(chan [2]string, 1))
	client, err := livetokens.NewClient(target, livetokens.WithClientCertificate(p.certFile, p.keyFile))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	_, err = mint(t, client, &livetokensv1.TokenRequest{})
	if code := status.Code(err); code != codes.Unavailable {
		t.Errorf("code = %v, want Unavailable (err %v)", code, err)
	}
}
