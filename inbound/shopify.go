// Scheme "shopify": the X-Shopify-Hmac-Sha256 header.
//
// Followed: Shopify/shopify-app-js, packages/apps/shopify-api/lib/webhooks/
// validate.ts (detectWebhookType, checkWebhooksHeaders, checkEventsHeaders)
// and lib/utils/hmac-validator.ts (validateHmacFromRequestFactory): the
// base64 HMAC-SHA256 of the raw body, keyed with the app's API secret key
// (client secret). Events webhooks send shopify-* headers beside the
// x-shopify-* ones; the presence of shopify-hmac-sha256 selects that set.
// As in the SDK, a webhook that lacks the topic, shop domain, API version or
// webhook/event id headers is refused even when its signature is good.

package inbound

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"time"
)

type shopifyScheme struct {
	key []byte
}

func newShopify(c Credentials, _ options) (verifier, error) {
	if c.Secret == "" {
		return nil, errors.New("the app's API secret key is required")
	}
	return &shopifyScheme{key: []byte(c.Secret)}, nil
}

func (s *shopifyScheme) verify(_ context.Context, req *Request, _ time.Time) (*Verified, error) {
	const name = "shopify"
	// The header sets of the two webhook types, as in header-names.ts.
	hmacName, required, idName := "X-Shopify-Hmac-Sha256",
		[]string{"X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Api-Version", "X-Shopify-Webhook-Id"},
		"X-Shopify-Webhook-Id"
	if req.Header.Get("Shopify-Hmac-Sha256") != "" {
		hmacName, required, idName = "Shopify-Hmac-Sha256",
			[]string{"Shopify-Topic", "Shopify-Shop-Domain", "Shopify-Api-Version", "Shopify-Event-Id"},
			"Shopify-Event-Id"
	}
	topicName, shopName := required[0], required[1]
	given := req.Header.Get(hmacName)
	if given == "" {
		return nil, refuse(name, ReasonMissingHeader, "no %s header", hmacName)
	}
	want := base64.StdEncoding.EncodeToString(macOf(sha256.New, s.key, req.Body))
	if !hmac.Equal([]byte(given), []byte(want)) {
		return nil, refuse(name, ReasonSignatureMismatch, "%s does not match the body", hmacName)
	}
	var missing []string
	for _, h := range required {
		if req.Header.Get(h) == "" {
			missing = append(missing, h)
		}
	}
	if len(missing) > 0 {
		return nil, refuse(name, ReasonMissingHeader, "signed, but without %s", strings.Join(missing, ", "))
	}
	// X-Shopify-Event-Id names the event across the webhooks it fans out
	// to; prefer it where Shopify sends it.
	id := req.Header.Get("X-Shopify-Event-Id")
	if id == "" {
		id = req.Header.Get(idName)
	}
	return &Verified{EventIDs: ids(id), Topic: req.Header.Get(topicName), Merchant: req.Header.Get(shopName)}, nil
}
