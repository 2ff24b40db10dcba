package inbound_test

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge/inbound"
)

// Mercado Pago's documentation shows the template, not a signed example;
// these are signed as documented.
func TestMercadoPago(t *testing.T) {
	t.Parallel()
	const secret = "mp-secret-signature"
	s := mustNew(t, "mercadopago", inbound.Credentials{Secret: secret})
	const requestID = "bb56a2f1-6aae-46ac-982e-9dcd3581d08e"
	body := `{"action":"payment.updated","api_version":"v1","data":{"id":"123456"},"date_created":"2026-03-01T11:59:00Z","id":12345,"live_mode":true,"type":"payment","user_id":2294}`
	url := "https://hooks.example/in/src_mp?data.id=123456&type=payment"
	ts := unix(testNow.Add(-3 * time.Second))
	manifest := func(id, reqID, ts string) string {
		var b strings.Builder
		if id != "" {
			b.WriteString("id:" + id + ";")
		}
		if reqID != "" {
			b.WriteString("request-id:" + reqID + ";")
		}
		return b.String() + "ts:" + ts + ";"
	}
	sig := func(id, reqID, ts string) string { return macHex(sha256.New, secret, manifest(id, reqID, ts)) }
	good := "ts=" + ts + ",v1=" + sig("123456", requestID, ts)
	req := func(url, xsig, body string) *inbound.Request {
		return &inbound.Request{Body: []byte(body), Header: headers("x-signature", xsig, "x-request-id", requestID), URL: url}
	}
	ids := []string{"12345"}
	at := func(d time.Duration) string {
		ts := unix(testNow.Add(d))
		return "ts=" + ts + ",v1=" + sig("123456", requestID, ts)
	}
	alnumURL := "https://hooks.example/in/src_mp?data.id=ORD01JQ4S4KY8HWQ6NA5PXB65B3D3&type=order"
	alnumBody := `{"action":"order.processed","data":{"id":"ORD01JQ4S4KY8HWQ6NA5PXB65B3D3"},"id":"98765","type":"order"}`
	ms := ts + "000"

	runCases(t, s, []verifyCase{
		{name: "valid", req: req(url, good, body), ids: ids},
		{name: "spaces in header", req: req(url, "ts="+ts+", v1="+sig("123456", requestID, ts), body), ids: ids},
		{name: "alphanumeric data.id is signed lower-cased", req: req(alnumURL, "ts="+ts+",v1="+sig("ord01jq4s4ky8hwq6na5pxb65b3d3", requestID, ts), alnumBody), ids: []string{"98765"}},
		{name: "timestamp in milliseconds", req: req(url, "ts="+ms+",v1="+sig("123456", requestID, ms), body), ids: ids},
		{name: "several signatures, one valid", req: req(url, "ts="+ts+",v1="+strings.Repeat("0", 64)+",v1="+sig("123456", requestID, ts), body), ids: ids},
		{name: "no request id: left out of the manifest", req: &inbound.Request{Body: []byte(body), URL: url, Header: headers("x-signature", "ts="+ts+",v1="+sig("123456", "", ts))}, ids: ids},
		{name: "data.id in the URL changed", req: req(strings.Replace(url, "123456", "123457", 1), good, strings.Replace(body, "123456", "123457", 1)), reason: inbound.ReasonSignatureMismatch},
		{name: "body names another data.id", req: req(url, good, strings.Replace(body, `"id":"123456"`, `"id":"999"`, 1)), reason: inbound.ReasonMalformedBody},
		{name: "request id changed", req: &inbound.Request{Body: []byte(body), URL: url, Header: headers("x-signature", good, "x-request-id", "other")}, reason: inbound.ReasonSignatureMismatch},
		{name: "no URL", req: req("", good, body), reason: inbound.ReasonSignatureMismatch},
		{name: "wrong secret", req: req(url, "ts="+ts+",v1="+macHex(sha256.New, "other", manifest("123456", requestID, ts)), body), reason: inbound.ReasonSignatureMismatch},
		{name: "stale", req: req(url, at(-301*time.Second), body), reason: inbound.ReasonTooOld},
		{name: "future", req: req(url, at(301*time.Second), body), reason: inbound.ReasonTooNew},
		{name: "missing header", req: &inbound.Request{Body: []byte(body), URL: url}, reason: inbound.ReasonMissingHeader},
		{name: "no v1", req: req(url, "ts="+ts, body), reason: inbound.ReasonMalformedHeader},
		{name: "v1 not hex", req: req(url, "ts="+ts+",v1=xyz", body), reason: inbound.ReasonMalformedHeader},
		{name: "ts not a number", req: req(url, "ts=now,v1="+sig("123456", requestID, ts), body), reason: inbound.ReasonMalformedHeader},
		{name: "not key=value", req: req(url, "garbage", body), reason: inbound.ReasonMalformedHeader},
	})

	v := verifyOne(t, s, req(url, good, body))
	if !strings.Contains(v.Note, "not the body") || !strings.Contains(v.Note, "123456") {
		t.Errorf("Note = %q, want it to say the body is unsigned and name data.id", v.Note)
	}
	if v.ResourceID != "123456" {
		t.Errorf("ResourceID = %q, want the signed data.id 123456", v.ResourceID)
	}
	// The signed id is lower-cased; the body's spelling, which must match
	// it, is the one passed on.
	alnum := verifyOne(t, s, req(alnumURL, "ts="+ts+",v1="+sig("ord01jq4s4ky8hwq6na5pxb65b3d3", requestID, ts), alnumBody))
	if alnum.ResourceID != "ORD01JQ4S4KY8HWQ6NA5PXB65B3D3" {
		t.Errorf("ResourceID = %q, want ORD01JQ4S4KY8HWQ6NA5PXB65B3D3", alnum.ResourceID)
	}
	noBodyID := verifyOne(t, s, req(url, good, `{"action":"payment.updated","type":"payment"}`))
	if noBodyID.ResourceID != "123456" {
		t.Errorf("ResourceID without data.id in the body = %q, want the signed 123456", noBodyID.ResourceID)
	}
}
