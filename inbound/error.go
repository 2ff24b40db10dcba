package inbound

import (
	"errors"
	"fmt"
)

// Reason says, in one word that logs and metrics can group by, why a request
// was refused. Error.Detail says the rest.
type Reason string

// Reasons for refusing a request.
const (
	// ReasonEmptyBody: the request has no body.
	ReasonEmptyBody Reason = "empty_body"
	// ReasonMissingHeader: a header (or form field) that carries the
	// signature or something it signs is absent or empty.
	ReasonMissingHeader Reason = "missing_header"
	// ReasonMalformedHeader: such a header or field is present but cannot
	// be read: not hex, not base64, not a number, not the documented shape.
	ReasonMalformedHeader Reason = "malformed_header"
	// ReasonMalformedBody: the scheme reads the body to verify it (Adyen,
	// Braintree) and cannot.
	ReasonMalformedBody Reason = "malformed_body"
	// ReasonMissingURL: the scheme signs or reads the notification URL and
	// the request does not say what it was.
	ReasonMissingURL Reason = "missing_url"
	// ReasonTooOld: the signed timestamp is further in the past than the
	// tolerance allows; the request may be a replay.
	ReasonTooOld Reason = "timestamp_too_old"
	// ReasonTooNew: the signed timestamp is further in the future than the
	// tolerance allows.
	ReasonTooNew Reason = "timestamp_too_new"
	// ReasonUnknownKey: the request is signed, but not for the key this
	// source holds (Braintree public key, Worldpay keyId).
	ReasonUnknownKey Reason = "unknown_key"
	// ReasonUnsupportedAlgorithm: the request names a signature algorithm
	// the scheme does not accept.
	ReasonUnsupportedAlgorithm Reason = "unsupported_algorithm"
	// ReasonSignatureMismatch: no signature in the request matches.
	ReasonSignatureMismatch Reason = "signature_mismatch"
	// ReasonUntrustedCertificate: PayPal's certificate URL is not one of
	// PayPal's, or the certificate does not chain to a trusted root, has
	// expired, or is not PayPal's message-verification certificate.
	ReasonUntrustedCertificate Reason = "untrusted_certificate"
	// ReasonCertificateUnavailable: PayPal's certificate could not be
	// fetched. This one is transient: the HTTP layer should answer 503 so
	// that PayPal retries.
	ReasonCertificateUnavailable Reason = "certificate_unavailable"
)

// Error is a refused request: which scheme refused it, the Reason, and a
// Detail for people. Neither ever contains a secret or a signature that
// would have been valid.
type Error struct {
	Scheme string
	Reason Reason
	Detail string
	Err    error // underlying cause, if any
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Scheme, e.Reason, e.Detail)
}

func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether the refusal may go away if the processor sends
// the same request again: the request may be genuine, but it could not be
// checked now.
func (e *Error) Temporary() bool { return e.Reason == ReasonCertificateUnavailable }

// ReasonOf returns the Reason of err if it is, or wraps, an *Error, and ""
// otherwise.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func refuse(scheme string, reason Reason, format string, args ...any) *Error {
	return &Error{Scheme: scheme, Reason: reason, Detail: fmt.Sprintf(format, args...)}
}
