//go:build contract

package main

import (
	"io"
	"os"
	"strings"
	"testing"
)

func TestContractReadmeExample(t *testing.T) {
	// The README example mints a token from the live server and prints its fingerprint and WebSocket URL.
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
	fields := strings.Fields(string(out))
	if len(fields) != 2 || !strings.HasPrefix(fields[0], "hmac-sha256:") || !strings.HasSuffix(fields[1], "BidiGenerateContentConstrained") {
		t.Errorf("example printed %q, want a fingerprint and the WebSocket URL", out)
	}
}
