package inbound_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/hookbridge/hookbridge/inbound"
)

// Adyen's published example: the key and NotificationRequestItem of
// Test_Hmacvalidator in Adyen/adyen-go-api-library,
// src/hmacvalidator/hmacvalidator_test.go, whose expected signature is
// ipnxGCaUZ4l8TUW75a71/ghd2Fe5ffvX0pV4TLTntIc=.
const (
	adyenSampleKey  = "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00"
	adyenSampleBody = `{"live":"false","notificationItems":[{"NotificationRequestItem":{` +
		`"additionalData":{"hmacSignature":"ipnxGCaUZ4l8TUW75a71/ghd2Fe5ffvX0pV4TLTntIc="},` +
		`"amount":{"currency":"EUR","value":1000},"eventCode":"EVENT","eventDate":"1970-01-01T00:00:00+00:00",` +
		`"merchantAccountCode":"merchantAccount","merchantReference":"reference","originalReference":"originalReference",` +
		`"paymentMethod":"VISA","pspReference":"pspReference","reason":"reason","success":"true"}}]}`
)

// adyenItem is one notification item as a test writes it; sign fills in its
// hmacSignature the way Adyen's documentation describes.
type adyenItem struct {
	psp, original, merchant, reference string
	value                              string // "" for no amount
	currency, event, success           string
}

func (it adyenItem) json(key string) string {
	sig := adyenSign(key, it)
	fields := map[string]any{
		"pspReference": it.psp, "originalReference": it.original, "merchantAccountCode": it.merchant,
		"merchantReference": it.reference, "eventCode": it.event, "success": it.success,
		"additionalData": map[string]string{"hmacSignature": sig},
	}
	if it.value != "" {
		fields["amount"] = map[string]any{"value": json.RawMessage(it.value), "currency": it.currency}
	}
	b, err := json.Marshal(map[string]any{"NotificationRequestItem": fields})
	if err != nil {
		panic(err)
	}
	return string(b)
}

func adyenSign(key string, it adyenItem) string {
	raw, err := hex.DecodeString(key)
	if err != nil {
		panic(err)
	}
	currency := it.currency
	if it.value == "" {
		currency = ""
	}
	data := strings.Join([]string{it.psp, it.original, it.merchant, it.reference, it.value, currency, it.event, it.success}, ":")
	return macBase64(sha256.New, string(raw), data)
}

func adyenBody(items ...string) string {
	return `{"live":"false","notificationItems":[` + strings.Join(items, ",") + `]}`
}

func TestAdyen(t *testing.T) {
	t.Parallel()
	s := mustNew(t, "adyen", inbound.Credentials{Secret: adyenSampleKey})
	req := func(body string) *inbound.Request { return &inbound.Request{Body: []byte(body)} }
	auth := adyenItem{psp: "7914073381342284", merchant: "TestMerchant", reference: "order-1", value: "1130", currency: "EUR", event: "AUTHORISATION", success: "true"}
	capture := adyenItem{psp: "8823073381342299", original: "7914073381342284", merchant: "TestMerchant", reference: "order-1", value: "1130", currency: "EUR", event: "CAPTURE", success: "true"}
	refund := adyenItem{psp: "9914073381342300", original: "7914073381342284", merchant: "TestMerchant", reference: "order:1\\x", value: "-500", currency: "EUR", event: "REFUND", success: "false"}
	noAmount := adyenItem{psp: "7914073381342285", merchant: "TestMerchant", event: "REPORT_AVAILABLE", success: "true"}
	good := auth.json(adyenSampleKey)
	forgedJSON := strings.Replace(auth.json(adyenSampleKey), `"value":1130`, `"value":1`, 1)
	unsigned := strings.Replace(capture.json(adyenSampleKey), `"hmacSignature"`, `"hmacSignatureX"`, 1)
	const otherKey = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"

	runCases(t, s, []verifyCase{
		{name: "published example", req: req(adyenSampleBody), ids: []string{"EVENT:pspReference:true"}},
		{name: "one item", req: req(adyenBody(good)), ids: []string{"AUTHORISATION:7914073381342284:true"}},
		{name: "batch", req: req(adyenBody(good, capture.json(adyenSampleKey), refund.json(adyenSampleKey))),
			ids: []string{"AUTHORISATION:7914073381342284:true", "CAPTURE:8823073381342299:true", "REFUND:9914073381342300:false"}},
		{name: "no amount signs empty fields", req: req(adyenBody(noAmount.json(adyenSampleKey))), ids: []string{"REPORT_AVAILABLE:7914073381342285:true"}},
		{name: "amount changed", req: req(adyenBody(forgedJSON)), reason: inbound.ReasonSignatureMismatch},
		{name: "one byte of body", req: req(strings.Replace(adyenBody(good), "order-1", "order-2", 1)), reason: inbound.ReasonSignatureMismatch},
		{name: "batch with one forged item", req: req(adyenBody(good, capture.json(adyenSampleKey), forgedJSON)), reason: inbound.ReasonSignatureMismatch},
		{name: "batch with one unsigned item", req: req(adyenBody(good, unsigned)), reason: inbound.ReasonMissingHeader},
		{name: "batch with one item signed by another key", req: req(adyenBody(good, capture.json(otherKey))), reason: inbound.ReasonSignatureMismatch},
		{name: "wrong key", req: req(adyenBody(auth.json(otherKey))), reason: inbound.ReasonSignatureMismatch},
		{name: "signature not a string", req: req(adyenBody(strings.Replace(good, `"`+adyenSign(adyenSampleKey, auth)+`"`, `["`+adyenSign(adyenSampleKey, auth)+`"]`, 1))), reason: inbound.ReasonMissingHeader},
		{name: "body cut short", req: req(adyenBody(good)[:len(adyenBody(good))-3]), reason: inbound.ReasonMalformedBody},
		{name: "amount not an integer", req: req(adyenBody(strings.Replace(good, `"value":1130`, `"value":11.30`, 1))), reason: inbound.ReasonMalformedBody},
		{name: "success as a boolean", req: req(adyenBody(strings.Replace(good, `"success":"true"`, `"success":true`, 1))), reason: inbound.ReasonMalformedBody},
		{name: "not JSON", req: req("eventCode=AUTHORISATION"), reason: inbound.ReasonMalformedBody},
		{name: "unsigned bytes after the notification", req: req(adyenBody(good) + `{"notificationItems":[]}`), reason: inbound.ReasonMalformedBody},
		{name: "no items", req: req(adyenBody()), reason: inbound.ReasonMalformedBody},
		{name: "item without NotificationRequestItem", req: req(adyenBody(`{"Other":{}}`)), reason: inbound.ReasonMalformedBody},
	})
}

func TestAdyen_TooManyItems(t *testing.T) {
	t.Parallel()
	s := mustNew(t, "adyen", inbound.Credentials{Secret: adyenSampleKey})
	item := adyenItem{psp: "1", merchant: "M", value: "1", currency: "EUR", event: "AUTHORISATION", success: "true"}.json(adyenSampleKey)
	items := make([]string, 1001)
	for i := range items {
		items[i] = item
	}
	runCases(t, s, []verifyCase{{name: strconv.Itoa(len(items)) + " items", req: &inbound.Request{Body: []byte(adyenBody(items...))}, reason: inbound.ReasonMalformedBody}})
}

// Adyen's published example for the header scheme: payloadAsString and
// expectedSignFromPayloadAsString of the same test file, with the same key.
// The payload is not valid JSON (an unquoted value); the signature covers the
// bytes, whatever they are.
const adyenHeaderSampleBody = "{\n    \"type\": \"merchant.created\",\n    \"environment\": \"test\",\n    \"createdAt\": \"01-01-2024\",\n    \"data\": {\n        \"capabilities\": {\n            \"sendToTransferInstrument\": {\n                \"requested\": true,\n                \"requestedLevel\": \"notApplicable\"\n            }\n        },\n        \"companyId\": \"YOUR_COMPANY_ID\",\n        \"merchantId\": YOUR_MERCHANT_ACCOUNT\",\n        \"status\": \"PreActive\"\n    }\n}"

func TestAdyenHMACHeader(t *testing.T) {
	t.Parallel()
	s := mustNew(t, "adyen-hmac-header", inbound.Credentials{Secret: adyenSampleKey})
	req := func(sig, body string) *inbound.Request {
		return &inbound.Request{Body: []byte(body), Header: headers("HmacSignature", sig)}
	}
	raw, _ := hex.DecodeString(adyenSampleKey)
	body := `{"eventId":"QBQQ9DLNRHHKGK38","type":"balancePlatform.transfer.updated","data":{"id":"1W1UG35U8A9J5ZLG"}}`
	good := macBase64(sha256.New, string(raw), body)
	runCases(t, s, []verifyCase{
		{name: "published example", req: req("yitBTPnDGtbAMG9rTxUa1e6lFGpa4PnrD6rErOmEhJ8=", adyenHeaderSampleBody)},
		{name: "signed here", req: req(good, body), ids: []string{"QBQQ9DLNRHHKGK38"}},
		{name: "one byte of body", req: req(good, flipByte(body)), reason: inbound.ReasonSignatureMismatch},
		{name: "wrong key", req: req(macBase64(sha256.New, adyenSampleKey, body), body), reason: inbound.ReasonSignatureMismatch},
		{name: "missing header", req: &inbound.Request{Body: []byte(body)}, reason: inbound.ReasonMissingHeader},
		{name: "malformed header", req: req("MismatchingHmacKey=", body), reason: inbound.ReasonSignatureMismatch},
	})
}
