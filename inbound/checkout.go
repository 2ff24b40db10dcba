// Scheme "checkout": Checkout.com's Cko-Signature header.
//
// Followed: Checkout.com's documentation, "Set up your webhook receiver"
// (https://www.checkout.com/docs/developer-resources/webhooks/manage-webhooks/set-up-your-webhook-receiver):
// the hex HMAC-SHA256 of the raw body, keyed with the signature key given
// in the workflow's webhook action. Checkout.com's SDKs have no verification
// helper to follow.

package inbound

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"
)

type checkoutScheme struct {
	key []byte
}

func newCheckout(c Credentials, _ options) (verifier, error) {
	if c.Secret == "" {
		return nil, errors.New("the webhook's signature key is required")
	}
	return &checkoutScheme{key: []byte(c.Secret)}, nil
}

func (s *checkoutScheme) verify(_ context.Context, req *Request, _ time.Time) (*Verified, error) {
	const name = "checkout"
	if err := verifyHexBodyMAC(name, req, "Cko-Signature", sha256.New, s.key); err != nil {
		return nil, err
	}
	return &Verified{EventIDs: ids(jsonID(req.Body, "id"))}, nil
}
