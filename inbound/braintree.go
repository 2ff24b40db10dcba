// Scheme "braintree": Braintree's bt_signature and bt_payload form fields,
// and the bt_challenge verification request.
//
// Followed: braintree/braintree_node, lib/braintree/
// webhook_notification_gateway.js (parse, validateSignature,
// matchingSignature, verify) and lib/braintree/digest.js (Sha1hexdigest).
// A notification is a form-encoded POST: bt_payload is base64 XML,
// bt_signature is "&"-separated "publicKey|signature" pairs. The pair for
// this source's public key must hold the hex HMAC-SHA1 of the payload (or of
// the payload with a newline appended, which some servers strip), keyed with
// the SHA-1 of the private key. A payload with characters outside base64 and
// newline is refused before any MAC is computed.
//
// When a webhook URL is saved, Braintree checks it with a GET carrying
// ?bt_challenge=<20 to 32 hex digits> and no body; the answer is
// "publicKey|<hex HMAC-SHA1 of the challenge>", returned in
// Verified.Challenge. Nothing about a challenge is to be stored.
//
// Braintree's payload carries no event id, and its timestamp is not part of
// the signature scheme, so Verified has neither.

package inbound

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

type braintreeScheme struct {
	publicKey string
	key       []byte // SHA-1 of the private key, the HMAC key the SDKs use
}

func newBraintree(c Credentials, _ options) (verifier, error) {
	private, public := strings.TrimSpace(c.Secret), strings.TrimSpace(c.PublicKey)
	if private == "" || public == "" {
		return nil, errors.New("both the private key (as the secret) and the public key are required")
	}
	sum := sha1.Sum([]byte(private))
	return &braintreeScheme{publicKey: public, key: sum[:]}, nil
}

func (s *braintreeScheme) hexMAC(data string) string {
	return hex.EncodeToString(macOf(sha1.New, s.key, []byte(data)))
}

func (s *braintreeScheme) verify(_ context.Context, req *Request, _ time.Time) (*Verified, error) {
	const name = "braintree"
	if len(req.Body) == 0 {
		return s.challenge(req)
	}
	form, err := url.ParseQuery(string(req.Body))
	if err != nil {
		return nil, refuse(name, ReasonMalformedBody, "the body is not a form: %v", err)
	}
	signature, payload := form.Get("bt_signature"), form.Get("bt_payload")
	switch {
	case signature == "":
		return nil, refuse(name, ReasonMissingHeader, "no bt_signature form field")
	case payload == "":
		return nil, refuse(name, ReasonMissingHeader, "no bt_payload form field")
	}
	if strings.IndexFunc(payload, notBase64OrNewline) >= 0 {
		return nil, refuse(name, ReasonMalformedBody, "bt_payload contains characters outside base64")
	}
	var given string
	found, pairs := false, 0
	for pair := range strings.SplitSeq(signature, "&") {
		if pairs++; pairs > maxSignatures {
			return nil, refuse(name, ReasonMalformedHeader, "bt_signature has more than %d pairs", maxSignatures)
		}
		publicKey, sig, ok := strings.Cut(pair, "|")
		if !ok {
			continue // as the SDK: pairs without "|" are skipped
		}
		sig, _, _ = strings.Cut(sig, "|")
		if publicKey == s.publicKey {
			given, found = sig, true
			break
		}
	}
	if !found {
		return nil, refuse(name, ReasonUnknownKey, "bt_signature has no signature for this public key")
	}
	for _, data := range []string{payload, payload + "\n"} {
		if hmac.Equal([]byte(given), []byte(s.hexMAC(data))) {
			return &Verified{}, nil
		}
	}
	return nil, refuse(name, ReasonSignatureMismatch, "bt_signature does not match bt_payload")
}

// challenge answers Braintree's check of a new webhook URL.
func (s *braintreeScheme) challenge(req *Request) (*Verified, error) {
	const name = "braintree"
	var challenge string
	if req.URL != "" {
		u, err := url.Parse(req.URL)
		if err != nil {
			return nil, refuse(name, ReasonMissingURL, "the request URL cannot be parsed: %v", err)
		}
		challenge = u.Query().Get("bt_challenge")
	}
	if challenge == "" {
		return nil, refuse(name, ReasonEmptyBody, "the request has no body and no bt_challenge query parameter")
	}
	if !isBraintreeChallenge(challenge) {
		return nil, refuse(name, ReasonMalformedHeader, "bt_challenge is not 20 to 32 lower-case hex digits")
	}
	answer := s.publicKey + "|" + s.hexMAC(challenge)
	return &Verified{
		Challenge: &Response{Status: http.StatusOK, ContentType: "text/plain; charset=utf-8", Body: []byte(answer)},
		Note:      "bt_challenge verification request, answered with " + answer,
	}, nil
}

// isBraintreeChallenge matches /^[a-f0-9]{20,32}$/, the SDK's check.
func isBraintreeChallenge(s string) bool {
	if len(s) < 20 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// notBase64OrNewline matches what the SDK's /[^A-Za-z0-9+=\/\n]/ matches.
func notBase64OrNewline(r rune) bool {
	return !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' ||
		r == '+' || r == '=' || r == '/' || r == '\n')
}
