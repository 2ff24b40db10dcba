// Scheme "standard-webhooks": any sender that follows the Standard Webhooks
// specification (Svix among them). Verification is delegated to this
// repository's public webhook package, which follows the reference library
// standard-webhooks/standard-webhooks, libraries/go/webhook.go, and is tested
// against its published vectors and against Svix's SDK.

package inbound

import (
	"context"
	"errors"
	"math"
	"strings"
	"time"

	"github.com/hookbridge/hookbridge/webhook"
)

type standardWebhooks struct {
	v *webhook.Verifier
}

// newStandardWebhooks reads Secret (a whsec_ HMAC secret, base64 after the
// prefix, for v1 signatures, or a whpk_ Ed25519 public key for v1a) and
// PublicKey (a whpk_ key). Either or both may be set; a message signed by any
// of them is accepted.
func newStandardWebhooks(c Credentials, o options) (verifier, error) {
	var keys []string
	for _, k := range []string{c.Secret, c.PublicKey} {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("a whsec_ secret or a whpk_ public key is required")
	}
	if strings.HasPrefix(strings.TrimSpace(c.PublicKey), webhook.SecretPrefix) {
		return nil, errors.New("the public key is a whsec_ secret; give it as the secret")
	}
	v, err := webhook.NewVerifier(keys...)
	if err != nil {
		return nil, err
	}
	tolerance := o.tolerance
	if tolerance < 0 {
		// The webhook package has no off switch: a window wider than
		// any clock can express is one.
		tolerance = time.Duration(math.MaxInt64)
	}
	return &standardWebhooks{v: v.WithTolerance(tolerance)}, nil
}

func (s *standardWebhooks) verify(_ context.Context, req *Request, now time.Time) (*Verified, error) {
	const name = "standard-webhooks"
	if err := s.v.VerifyAt(now, req.Body, req.Header); err != nil {
		reason := ReasonSignatureMismatch
		switch {
		case errors.Is(err, webhook.ErrMissingHeaders):
			reason = ReasonMissingHeader
		case errors.Is(err, webhook.ErrInvalidTimestamp):
			reason = ReasonMalformedHeader
		case errors.Is(err, webhook.ErrMessageTooOld):
			reason = ReasonTooOld
		case errors.Is(err, webhook.ErrMessageTooNew):
			reason = ReasonTooNew
		}
		return nil, &Error{Scheme: name, Reason: reason, Detail: strings.TrimPrefix(err.Error(), "webhook: "), Err: err}
	}
	// VerifyAt read these from the same set of headers it verified.
	id, ts := req.Header.Get(webhook.HeaderID), req.Header.Get(webhook.HeaderTimestamp)
	if id == "" {
		id, ts = req.Header.Get(webhook.SvixHeaderID), req.Header.Get(webhook.SvixHeaderTimestamp)
	}
	signed, ok := parseUnixSeconds(ts)
	if !ok {
		// VerifyAt accepted it, so this cannot happen; refuse all the same.
		return nil, refuse(name, ReasonMalformedHeader, "timestamp %.20q is not unix seconds", ts)
	}
	return &Verified{EventIDs: ids(id), SignedAt: signed}, nil
}
