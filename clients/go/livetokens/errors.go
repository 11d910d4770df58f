package livetokens

import (
	"errors"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	livetokensv1 "github.com/livetokens/livetokens/clients/go/livetokensv1"
)

// Domain is the ErrorInfo domain of every livetokens error.
const Domain = "livetokens.v1.TokenService"

// ErrorDetails is a livetokens error decoded: its gRPC code and message, and the
// google.rpc details the server sent in the grpc-status-details-bin trailer.
type ErrorDetails struct {
	// Code is the gRPC status code.
	Code codes.Code
	// Message is the status message, safe to log (it never holds a key or token).
	Message string
	// Reason is the UPPER_SNAKE google.rpc.ErrorInfo reason, for example
	// "INVALID_REQUEST"; empty when the error carries no ErrorInfo (for example a
	// deadline that ran out in the client).
	Reason string
	// ErrorReason is Reason as a constant to switch on, for example
	// livetokensv1.ErrorReason_ERROR_REASON_INVALID_REQUEST;
	// ErrorReason_ERROR_REASON_UNSPECIFIED when Reason is empty or newer than
	// this client (then go by Code).
	ErrorReason livetokensv1.ErrorReason
	// Domain is the ErrorInfo domain: "livetokens.v1.TokenService" for errors
	// from the server.
	Domain string
	// Metadata is the ErrorInfo metadata (for example "rule" for POLICY_DENIED);
	// nil when there is none.
	Metadata map[string]string
	// FieldViolations lists the google.rpc.BadRequest field violations, each
	// field a snake_case proto path such as "constraints.config.temperature".
	FieldViolations []FieldViolation
	// RetryDelay is the google.rpc.RetryInfo delay; 0 when the server sent none.
	RetryDelay time.Duration
}

// FieldViolation is one violated rule of a request.
type FieldViolation struct {
	// Field is the path of the offending field (AIP-193), for example
	// "constraints.config.tools[0].function_declarations[1].name".
	Field string
	// Description says what is wrong, for a human.
	Description string
	// Reason is the violation's machine-readable reason; empty when the server
	// sent none.
	Reason string
}

// reasonPrefix is what the ErrorReason value names have and the wire strings lack.
const reasonPrefix = "ERROR_REASON_"

// ReasonName returns the ErrorInfo.reason string of r: its name without the
// ERROR_REASON_ prefix, for example "INVALID_REQUEST". It returns "" for
// ERROR_REASON_UNSPECIFIED and for a number this client does not know.
func ReasonName(r livetokensv1.ErrorReason) string {
	name, ok := livetokensv1.ErrorReason_name[int32(r)]
	if !ok || r == livetokensv1.ErrorReason_ERROR_REASON_UNSPECIFIED {
		return ""
	}
	return strings.TrimPrefix(name, reasonPrefix)
}

// ParseReason returns the ErrorReason constant of an ErrorInfo.reason string, or
// ERROR_REASON_UNSPECIFIED when it is empty or unknown.
func ParseReason(reason string) livetokensv1.ErrorReason {
	if reason == "" {
		return livetokensv1.ErrorReason_ERROR_REASON_UNSPECIFIED
	}
	return livetokensv1.ErrorReason(livetokensv1.ErrorReason_value[reasonPrefix+reason])
}

// Details decodes err, an error returned by Client.MintToken, also when wrapped. It
// returns nil for a nil err. An error that is not a gRPC status (for example a
// context error) gets the matching code, or codes.Unknown, and no details.
func Details(err error) *ErrorDetails {
	if err == nil {
		return nil
	}
	// Unlike status.FromError, keep the server's own message when err wraps a status.
	var withStatus interface{ GRPCStatus() *status.Status }
	var s *status.Status
	if errors.As(err, &withStatus) {
		s = withStatus.GRPCStatus()
	} else {
		s = status.FromContextError(err)
	}
	d := &ErrorDetails{Code: s.Code(), Message: s.Message()}
	var seenInfo bool
	for _, detail := range s.Details() {
		switch detail := detail.(type) {
		case *errdetails.ErrorInfo:
			if !seenInfo { // the first ErrorInfo is the error's; there is only one in practice
				seenInfo = true
				d.Reason = detail.GetReason()
				d.ErrorReason = ParseReason(d.Reason)
				d.Domain = detail.GetDomain()
				d.Metadata = detail.GetMetadata()
			}
		case *errdetails.BadRequest:
			for _, v := range detail.GetFieldViolations() {
				d.FieldViolations = append(d.FieldViolations, FieldViolation{Field: v.GetField(), Description: v.GetDescription(), Reason: v.GetReason()})
			}
		case *errdetails.RetryInfo:
			d.RetryDelay = detail.GetRetryDelay().AsDuration()
		}
	}
	return d
}
