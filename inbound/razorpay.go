// Scheme "razorpay": the X-Razorpay-Signature header.
//
// Followed: razorpay/razorpay-go, utils/utils.go (VerifyWebhookSignature,
// VerifySignature): the hex HMAC-SHA256 of the raw body, keyed with the
// webhook secret entered in the Dashboard. The event id is Razorpay's
// X-Razorpay-Event-Id header, the same on every retry.

package inbound

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"
)

type razorpayScheme struct {
	key []byte
}

func newRazorpay(c Credentials, _ options) (verifier, error) {
	if c.Secret == "" {
		return nil, errors.New("the webhook secret is required")
	}
	return &razorpayScheme{key: []byte(c.Secret)}, nil
}

func (s *razorpayScheme) verify(_ context.Context, req *Request, _ time.Time) (*Verified, error) {
	const name = "razorpay"
	if err := verifyHexBodyMAC(name, req, "X-Razorpay-Signature", sha256.New, s.key); err != nil {
		return nil, err
	}
	return &Verified{EventIDs: ids(req.Header.Get("X-Razorpay-Event-Id"))}, nil
}
