// Scheme "adyen-hmac-header": Adyen's platform and management webhooks
// (Balance Platform, Management API), signed in the HmacSignature header.
//
// Followed: Adyen/adyen-go-api-library, src/hmacvalidator/hmacvalidator.go
// (ValidateHmacPayload, CalculateHmac with a string payload): the base64
// HMAC-SHA256 of the raw body, keyed with the hex HMAC key decoded. The key
// is the one configured for the webhook in the Customer Area.

package inbound

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"time"
)

type adyenHeaderScheme struct {
	key []byte
}

func newAdyenHeader(c Credentials, _ options) (verifier, error) {
	key, err := adyenKey(c.Secret)
	if err != nil {
		return nil, err
	}
	return &adyenHeaderScheme{key: key}, nil
}

func (s *adyenHeaderScheme) verify(_ context.Context, req *Request, _ time.Time) (*Verified, error) {
	const name = "adyen-hmac-header"
	given := req.Header.Get("HmacSignature")
	if given == "" {
		return nil, refuse(name, ReasonMissingHeader, "no HmacSignature header")
	}
	want := base64.StdEncoding.EncodeToString(macOf(sha256.New, s.key, req.Body))
	if !hmac.Equal([]byte(given), []byte(want)) {
		return nil, refuse(name, ReasonSignatureMismatch, "HmacSignature does not match the body")
	}
	// Platform webhooks carry no id of their own, except those (such as
	// the tokenization webhooks) that name the event in eventId.
	return &Verified{EventIDs: ids(jsonID(req.Body, "eventId"))}, nil
}
