// Scheme "square": the x-square-hmacsha256-signature header.
//
// Followed: square/square-go-sdk, webhooks/client/verify_signature.go
// (VerifySignature, createHmac): the base64 HMAC-SHA256, keyed with the
// subscription's signature key as Square shows it, of the notification URL
// followed by the raw body. The URL is the one configured in the subscription,
// exactly, so Request.URL must be the URL as Square called it. The SDK
// accepts an empty body; here, as everywhere, it is refused.

package inbound

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"
)

type squareScheme struct {
	key []byte
}

func newSquare(c Credentials, _ options) (verifier, error) {
	if c.Secret == "" {
		return nil, errors.New("the subscription's signature key is required")
	}
	return &squareScheme{key: []byte(c.Secret)}, nil
}

func (s *squareScheme) verify(_ context.Context, req *Request, _ time.Time) (*Verified, error) {
	const name = "square"
	given := req.Header.Get("X-Square-Hmacsha256-Signature")
	if given == "" {
		return nil, refuse(name, ReasonMissingHeader, "no x-square-hmacsha256-signature header")
	}
	if req.URL == "" {
		return nil, refuse(name, ReasonMissingURL, "Square signs the notification URL, and the request does not say what it was")
	}
	want := base64.StdEncoding.EncodeToString(macOf(sha256.New, s.key, []byte(req.URL), req.Body))
	if !hmac.Equal([]byte(given), []byte(want)) {
		return nil, refuse(name, ReasonSignatureMismatch, "x-square-hmacsha256-signature does not match the URL and body (is %.200q the URL configured at Square?)", req.URL)
	}
	return &Verified{EventIDs: ids(jsonID(req.Body, "event_id"))}, nil
}
