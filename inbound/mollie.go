// Scheme "mollie": the X-Mollie-Signature header of Mollie's next-gen
// webhooks.
//
// Followed: mollie/mollie-api-php, src/Webhooks/SignatureValidator.php
// (validatePayload, extractSignature, createSignature): the hex
// HMAC-SHA256 of the raw body, keyed with the signing secret from the
// Dashboard, written "sha256=<hex>" (the prefix is optional). The header may
// be repeated; any value matching is enough. Mollie's legacy webhooks are
// unsigned (they carry only a resource id to fetch); the SDK lets them
// through, this scheme does not: a source that verifies takes only signed
// requests.

package inbound

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"
)

type mollieScheme struct {
	key []byte
}

func newMollie(c Credentials, _ options) (verifier, error) {
	if c.Secret == "" {
		return nil, errors.New("the webhook signing secret is required")
	}
	return &mollieScheme{key: []byte(c.Secret)}, nil
}

func (s *mollieScheme) verify(_ context.Context, req *Request, _ time.Time) (*Verified, error) {
	const name = "mollie"
	var values []string
	for _, v := range req.Header.Values("X-Mollie-Signature") {
		if v = strings.TrimSpace(v); v != "" {
			values = append(values, v)
		}
	}
	if len(values) == 0 {
		return nil, refuse(name, ReasonMissingHeader, "no X-Mollie-Signature header (legacy, unsigned webhooks are not accepted)")
	}
	if len(values) > maxSignatures {
		return nil, refuse(name, ReasonMalformedHeader, "%d X-Mollie-Signature headers, at most %d are read", len(values), maxSignatures)
	}
	want := macOf(sha256.New, s.key, req.Body)
	readable := 0
	for _, v := range values {
		sig, err := hex.DecodeString(strings.TrimPrefix(v, "sha256="))
		if err != nil {
			continue
		}
		readable++
		if hmac.Equal(sig, want) {
			return &Verified{EventIDs: ids(jsonID(req.Body, "id"))}, nil
		}
	}
	if readable == 0 {
		return nil, refuse(name, ReasonMalformedHeader, "no X-Mollie-Signature value is sha256=<hex>")
	}
	return nil, refuse(name, ReasonSignatureMismatch, "none of the %d X-Mollie-Signature values matches the body", readable)
}
