package livetokens

import (
	"errors"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
				d.Domain = detail.GetDomain()
				d.Metadata = detail.GetMetadata()
			}
		case *errdetails.BadRequest:
			for _, v := range detail.GetFieldViolations() {
				d.FieldViolations = append(d.FieldViolations, FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
			}
		case *errdetails.RetryInfo:
			d.RetryDelay = detail.GetRetryDelay().AsDuration()
		}
	}
	return d
}
