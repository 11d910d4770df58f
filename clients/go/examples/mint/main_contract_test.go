//go:build contract

package main

import (
	"io"
	"os"
	"regexp"
	"testing"
	"time"
)

// exampleOutput is what the README example prints against the live server: the shared
// scenario of every client README (no token name, only its redacted prefix).
var exampleOutput = regexp.MustCompile(`^name: auth_tokens/\.\.\.\(redacted\)
expires: (\S+)
fingerprint: hmac-sha256:[0-9a-f]{32}
rejected: InvalidArgument INVALID_REQUEST
violation: uses: must be 0 or more, got -1
$`)

func TestContractReadmeExample(t *testing.T) {
	// The README example mints a 10-minute token and prints its redacted name, expiry and fingerprint, then the uses = -1 violation.
	if os.Getenv("LIVETOKENS_TARGET") == "" {
		t.Fatal("LIVETOKENS_TARGET is not set: run the contract tests under tools/with_livetokens.py")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	main() // on failure it exits the test binary with status 1 and its log message
	os.Stdout = stdout
	_ = w.Close()
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	m := exampleOutput.FindSubmatch(out)
	if m == nil {
		t.Fatalf("example printed %q, want %s", out, exampleOutput)
	}
	expires, err := time.Parse(time.RFC3339, string(m[1]))
	if err != nil {
		t.Fatalf("expiry %q: %v", m[1], err)
	}
	if off := time.Until(expires) - 10*time.Minute; off > 2*time.Minute || off < -2*time.Minute {
		t.Errorf("expiry %v is %v off now + 10 min", expires, off)
	}
}
