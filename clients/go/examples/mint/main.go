// Command mint mints one Gemini Live API token through livetokens at $LIVETOKENS_TARGET,
// then shows how a rejected request is decoded.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/livetokens/livetokens/clients/go/livetokens"
	livetokensv1 "github.com/livetokens/livetokens/clients/go/livetokensv1"
)

func main() {
	// WithInsecure only for a livetokens on loopback. In production leave it out (TLS with
	// the system roots) and add WithCAFile, WithClientCertificate (mutual TLS) or
	// WithBearerToken as your livetokens requires.
	client, err := livetokens.NewClient(os.Getenv("LIVETOKENS_TARGET"), livetokens.WithInsecure())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	request := &livetokensv1.TokenRequest{
		Constraints: &livetokensv1.LiveConstraints{
			Model: "gemini-live-2.5-flash-preview",
			Config: &livetokensv1.LiveConfig{
				ResponseModalities: []livetokensv1.Modality{livetokensv1.Modality_MODALITY_AUDIO},
				Temperature:        proto.Float32(0.7),
				SessionResumption:  &livetokensv1.SessionResumptionConfig{},
			},
		},
		Lifetime: durationpb.New(10 * time.Minute),
		Uses:     proto.Int32(2),
	}
	token, err := client.MintToken(ctx, request)
	if err != nil {
		log.Fatalf("mint failed: %v", err)
	}
	// token.Name is the credential: hand it to the app, never print or log it.
	prefix, _, _ := strings.Cut(token.GetName(), "/")
	fmt.Println("name:", prefix+"/...(redacted)")
	fmt.Println("expires:", token.GetExpireTime().AsTime().Format(time.RFC3339))
	fmt.Println("fingerprint:", token.GetFingerprint())

	request.Uses = proto.Int32(-1) // invalid: the server names the field
	_, err = client.MintToken(ctx, request)
	d := livetokens.Details(err)
	if d == nil {
		log.Fatal("uses = -1 was accepted")
	}
	fmt.Println("rejected:", d.Code, d.Reason)
	if d.ErrorReason == livetokensv1.ErrorReason_ERROR_REASON_INVALID_REQUEST {
		for _, v := range d.FieldViolations {
			fmt.Printf("violation: %s: %s\n", v.Field, v.Description)
		}
	}
}
