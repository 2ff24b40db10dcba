// Scheme "gocardless": the Webhook-Signature header.
//
// Followed: gocardless/gocardless-nodejs, src/webhooks.ts (parse,
// verifySignature): the hex HMAC-SHA256 of the raw body, keyed with the
// webhook endpoint secret from the Dashboard. A webhook carries a batch of
// events; their ids are the de-duplication keys.

package inbound

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"time"
)

type goCardlessScheme struct {
	key []byte
}

func newGoCardless(c Credentials, _ options) (verifier, error) {
	if c.Secret == "" {
		return nil, errors.New("the webhook endpoint secret is required")
	}
	return &goCardlessScheme{key: []byte(c.Secret)}, nil
}

func (s *goCardlessScheme) verify(_ context.Context, req *Request, _ time.Time) (*Verified, error) {
	const name = "gocardless"
	if err := verifyHexBodyMAC(name, req, "Webhook-Signature", sha256.New, s.key); err != nil {
		return nil, err
	}
	var body struct {
		Events []struct {
			ID json.RawMessage `json:"id"`
		} `json:"events"`
	}
	var eventIDs []string
	if json.Unmarshal(req.Body, &body) == nil {
		for _, e := range body.Events {
			if id := jsonScalar(e.ID); id != "" {
				eventIDs = append(eventIDs, id)
			}
		}
	}
	return &Verified{EventIDs: eventIDs}, nil
}
