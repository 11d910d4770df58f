package main

import (
	"os"
	"strings"
	"testing"
)

func TestReadmeShowsThisExample(t *testing.T) {
	// The Go block in clients/go/README.md is this program verbatim, so the README shows code a test runs.
	source, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```go\n"+string(source)+"```\n") {
		t.Error("README.md has no ```go block equal to examples/mint/main.go: copy main.go into it")
	}
}
