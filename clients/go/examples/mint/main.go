// Command mint mints one Gemini Live API token through livetokens at $LIVETOKENS_TARGET.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/livetokens/livetokens/clients/go/livetokens"
	livetokensv1 "github.com/livetokens/livetokens/clients/go/livetokensv1"
)

func main() {
	// WithInsecure is for a livetokens on loopback; leave it out to connect with TLS.
	client, err := livetokens.Dial(os.Getenv("LIVETOKENS_TARGET"), livetokens.WithInsecure())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	token, err := client.MintToken(ctx, &livetokensv1.TokenRequest{
		Constraints: &livetokensv1.LiveConstraints{Model: "gemini-live-2.5-flash-preview"},
	})
	if err != nil {
		d := livetokens.Details(err)
		log.Fatalf("mint failed: %v %s %+v", d.Code, d.Reason, d.FieldViolations)
	}
	// token.Name is the secret the app puts on the WebSocket; log only the fingerprint.
	fmt.Println(token.GetFingerprint(), token.GetWebsocketUrl())
}
