package inbound_test

import (
	"crypto/sha256"
	"net/http"
	"testing"

	"github.com/hookbridge/hookbridge/inbound"
)

// Shopify's SDK tests sign at run time with createHmac('sha256',
// secret).digest('base64') (Shopify/shopify-app-js, packages/apps/shopify-api/
// lib/webhooks/__tests__/utils.ts); these are signed the same way, with the
// headers those tests send.
func TestShopify(t *testing.T) {
	t.Parallel()
	const secret = "hush"
	s := mustNew(t, "shopify", inbound.Credentials{Secret: secret})
	body := `{"id":820982911946154500,"email":"jon@example.com","total_price":"598.94","currency":"USD"}`
	good := macBase64(sha256.New, secret, body)
	webhooks := func(sig string, drop ...string) http.Header {
		h := headers(
			"X-Shopify-Hmac-Sha256", sig,
			"X-Shopify-Topic", "orders/paid",
			"X-Shopify-Shop-Domain", "shop1.myshopify.io",
			"X-Shopify-API-Version", "2025-01",
			"X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
		)
		for _, d := range drop {
			h.Del(d)
		}
		return h
	}
	req := func(h http.Header, body string) *inbound.Request {
		return &inbound.Request{Body: []byte(body), Header: h}
	}
	withEventID := webhooks(good)
	withEventID.Set("X-Shopify-Event-Id", "98880550-7158-44d4-b7cd-2c97c8a091b5")
	events := headers(
		"Shopify-Hmac-Sha256", good, "X-Shopify-Hmac-Sha256", good,
		"Shopify-Topic", "orders/paid", "Shopify-Shop-Domain", "shop1.myshopify.io",
		"Shopify-API-Version", "2025-01", "Shopify-Event-Id", "evt-7",
	)
	runCases(t, s, []verifyCase{
		{name: "webhook", req: req(webhooks(good), body), ids: []string{"b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"}},
		{name: "event id preferred", req: req(withEventID, body), ids: []string{"98880550-7158-44d4-b7cd-2c97c8a091b5"}},
		{name: "events webhook", req: req(events, body), ids: []string{"evt-7"}},
		{name: "one byte of body", req: req(webhooks(good), flipByte(body)), reason: inbound.ReasonSignatureMismatch},
		{name: "wrong secret", req: req(webhooks(macBase64(sha256.New, "other", body)), body), reason: inbound.ReasonSignatureMismatch},
		{name: "hex instead of base64", req: req(webhooks(macHex(sha256.New, secret, body)), body), reason: inbound.ReasonSignatureMismatch},
		{name: "missing signature", req: req(webhooks(good, "X-Shopify-Hmac-Sha256"), body), reason: inbound.ReasonMissingHeader},
		{name: "missing topic", req: req(webhooks(good, "X-Shopify-Topic"), body), reason: inbound.ReasonMissingHeader},
		{name: "missing webhook id", req: req(webhooks(good, "X-Shopify-Webhook-Id"), body), reason: inbound.ReasonMissingHeader},
	})

	// The topic and the shop travel in headers; the normaliser reads them
	// from Verified, for both header sets.
	for name, h := range map[string]http.Header{"webhook": webhooks(good), "events webhook": events} {
		v := verifyOne(t, s, req(h, body))
		if v.Topic != "orders/paid" || v.Merchant != "shop1.myshopify.io" {
			t.Errorf("%s: Topic %q, Merchant %q, want orders/paid and shop1.myshopify.io", name, v.Topic, v.Merchant)
		}
	}
}
