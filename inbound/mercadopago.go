// Scheme "mercadopago": Mercado Pago's x-signature header.
//
// Followed: Mercado Pago's documentation, "Webhooks: validate the origin of a
// notification"
// (https://www.mercadopago.com/developers/en/docs/your-integrations/notifications/webhooks);
// Mercado Pago's SDKs have no verification helper to follow. The header is
// "ts=<timestamp>,v1=<hex>"; the signed content is the manifest
//
//	id:<data.id>;request-id:<x-request-id>;ts:<ts>;
//
// where data.id is the query parameter of the notification URL (lower-cased,
// as the documentation requires for alphanumeric ids) and x-request-id the
// request header; a part whose value the notification does not carry is left
// out, as documented. The MAC is the hex HMAC-SHA256 keyed with the secret
// signature the application's Webhooks page shows. The documentation's
// example timestamp is in seconds; a value too large to be seconds (past the
// year 5000) is read as milliseconds.
//
// Mercado Pago does not sign the body. The receiver should act on the signed
// data.id (fetching the resource from Mercado Pago) rather than on the body;
// as a guard, a body whose data.id differs from the signed one is refused,
// and Verified.Note says that the body is unsigned.

package inbound

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"
)

// maxUnixSeconds separates second from millisecond timestamps: 10^11 seconds
// is in the year 5138, 10^11 milliseconds in 1973.
const maxUnixSeconds = 100_000_000_000

type mercadoPagoScheme struct {
	key       []byte
	tolerance time.Duration
}

func newMercadoPago(c Credentials, o options) (verifier, error) {
	if c.Secret == "" {
		return nil, errors.New("the application's webhook secret signature is required")
	}
	return &mercadoPagoScheme{key: []byte(c.Secret), tolerance: o.tolerance}, nil
}

func (s *mercadoPagoScheme) verify(_ context.Context, req *Request, now time.Time) (*Verified, error) {
	const name = "mercadopago"
	h := req.Header.Get("X-Signature")
	if h == "" {
		return nil, refuse(name, ReasonMissingHeader, "no x-signature header")
	}
	var (
		ts      string
		sigs    [][]byte
		entries int
	)
	for part := range strings.SplitSeq(h, ",") {
		if entries++; entries > maxSignatures+1 {
			return nil, refuse(name, ReasonMalformedHeader, "x-signature has more than %d entries", maxSignatures+1)
		}
		key, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, refuse(name, ReasonMalformedHeader, "x-signature entry %d is not key=value", entries)
		}
		switch strings.TrimSpace(key) {
		case "ts":
			ts = strings.TrimSpace(value)
		case "v1":
			sig, err := hex.DecodeString(strings.TrimSpace(value))
			if err != nil {
				return nil, refuse(name, ReasonMalformedHeader, "x-signature v1 is not hex")
			}
			sigs = append(sigs, sig)
		}
	}
	if ts == "" || len(sigs) == 0 {
		return nil, refuse(name, ReasonMalformedHeader, "x-signature lacks ts= or v1=")
	}
	signed, ok := parseUnixSeconds(ts)
	if !ok {
		return nil, refuse(name, ReasonMalformedHeader, "x-signature ts %.20q is not a unix time", ts)
	}
	if signed.Unix() >= maxUnixSeconds {
		signed = time.UnixMilli(signed.Unix())
	}
	if err := checkTimestamp(name, signed, now, s.tolerance); err != nil {
		return nil, err
	}

	var dataID string
	if req.URL != "" {
		u, err := url.Parse(req.URL)
		if err != nil {
			return nil, refuse(name, ReasonMissingURL, "the notification URL cannot be parsed: %v", err)
		}
		dataID = strings.ToLower(u.Query().Get("data.id"))
	}
	var manifest strings.Builder
	if dataID != "" {
		manifest.WriteString("id:" + dataID + ";")
	}
	if requestID := req.Header.Get("X-Request-Id"); requestID != "" {
		manifest.WriteString("request-id:" + requestID + ";")
	}
	manifest.WriteString("ts:" + ts + ";")

	want := macOf(sha256.New, s.key, []byte(manifest.String()))
	matched := false
	for _, sig := range sigs {
		matched = matched || hmac.Equal(sig, want)
	}
	if !matched {
		hint := ""
		if dataID == "" {
			hint = " (the manifest has no data.id: was the notification URL with its query given?)"
		}
		return nil, refuse(name, ReasonSignatureMismatch, "x-signature does not match the manifest%s", hint)
	}
	var body struct {
		ID   json.RawMessage `json:"id"`
		Data struct {
			ID json.RawMessage `json:"id"`
		} `json:"data"`
	}
	// The signed data.id is lower-cased; the body writes it as Mercado
	// Pago does, and is refused unless the two agree, so the body's
	// spelling is the one to pass on.
	resourceID := dataID
	if json.Unmarshal(req.Body, &body) == nil {
		if bodyDataID := jsonScalar(body.Data.ID); bodyDataID != "" {
			if !strings.EqualFold(bodyDataID, dataID) {
				return nil, refuse(name, ReasonMalformedBody, "the body names data.id %.40q, the signed URL %.40q", bodyDataID, dataID)
			}
			resourceID = bodyDataID
		}
	}
	return &Verified{
		EventIDs:   ids(jsonScalar(body.ID)),
		SignedAt:   signed,
		Note:       "Mercado Pago signs data.id, x-request-id and ts, not the body: act on data.id " + dataID,
		ResourceID: resourceID,
	}, nil
}
