// Scheme "hmac": a configurable HMAC for processors without a scheme of their
// own. There is no SDK to follow; the shape is the one most processors share
// (a header holding the MAC of the raw body, sometimes with a prefix such as
// "sha256=", sometimes over a signed timestamp too).
//
// The MAC is computed over the raw body, or, with a timestamp header
// configured, over
//
//	<timestamp header value> + "." + <body>
//
// where the timestamp is unix seconds in decimal and must lie within the
// tolerance. The key is the secret's bytes as given. The signature header may
// be repeated, and one value may hold several signatures separated by commas
// or spaces; any one matching is enough.

package inbound

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strings"
	"time"
)

// HMACOptions configure the generic "hmac" scheme.
type HMACOptions struct {
	// Header is the header holding the signature, e.g. "X-Signature".
	// Required.
	Header string
	// Algorithm is "sha1", "sha256" (the default) or "sha512".
	Algorithm string
	// Encoding is how the signature is written: "hex" (the default) or
	// "base64" (standard alphabet, padded).
	Encoding string
	// Prefix is text before each signature, removed before decoding, e.g.
	// "sha256=". A signature without it is refused.
	Prefix string
	// TimestampHeader, if set, names a header holding the unix time in
	// seconds that is signed with the body, as "<timestamp>.<body>".
	TimestampHeader string
}

type genericHMAC struct {
	opts      HMACOptions
	hash      func() hash.Hash
	decode    func(string) ([]byte, error)
	key       []byte
	tolerance time.Duration
}

func newGenericHMAC(c Credentials, o options) (verifier, error) {
	opts := c.HMAC
	if c.Secret == "" {
		return nil, errors.New("the secret is required")
	}
	if opts.Header = strings.TrimSpace(opts.Header); opts.Header == "" {
		return nil, errors.New("the signature header name is required")
	}
	g := &genericHMAC{key: []byte(c.Secret), tolerance: o.tolerance}
	switch strings.ToLower(opts.Algorithm) {
	case "sha1":
		g.hash = sha1.New
	case "", "sha256":
		g.hash = sha256.New
	case "sha512":
		g.hash = sha512.New
	default:
		return nil, fmt.Errorf("algorithm %q: want sha1, sha256 or sha512", opts.Algorithm)
	}
	switch strings.ToLower(opts.Encoding) {
	case "", "hex":
		g.decode = hex.DecodeString
	case "base64":
		g.decode = base64.StdEncoding.DecodeString
	default:
		return nil, fmt.Errorf("encoding %q: want hex or base64", opts.Encoding)
	}
	opts.TimestampHeader = strings.TrimSpace(opts.TimestampHeader)
	g.opts = opts
	return g, nil
}

func (g *genericHMAC) verify(_ context.Context, req *Request, now time.Time) (*Verified, error) {
	const name = "hmac"
	var sigs []string
	for _, v := range req.Header.Values(g.opts.Header) {
		sigs = append(sigs, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })...)
		if len(sigs) > maxSignatures {
			return nil, refuse(name, ReasonMalformedHeader, "%s holds more than %d signatures", g.opts.Header, maxSignatures)
		}
	}
	if len(sigs) == 0 {
		return nil, refuse(name, ReasonMissingHeader, "no %s header", http.CanonicalHeaderKey(g.opts.Header))
	}

	var v Verified
	parts := [][]byte{req.Body}
	if g.opts.TimestampHeader != "" {
		ts := strings.TrimSpace(req.Header.Get(g.opts.TimestampHeader))
		if ts == "" {
			return nil, refuse(name, ReasonMissingHeader, "no %s header", http.CanonicalHeaderKey(g.opts.TimestampHeader))
		}
		signed, ok := parseUnixSeconds(ts)
		if !ok {
			return nil, refuse(name, ReasonMalformedHeader, "%s %.20q is not unix seconds", http.CanonicalHeaderKey(g.opts.TimestampHeader), ts)
		}
		if err := checkTimestamp(name, signed, now, g.tolerance); err != nil {
			return nil, err
		}
		v.SignedAt = signed
		parts = [][]byte{[]byte(ts), []byte("."), req.Body}
	}

	want := macOf(g.hash, g.key, parts...)
	readable := 0
	for _, s := range sigs {
		encoded, ok := strings.CutPrefix(s, g.opts.Prefix)
		if !ok {
			continue
		}
		sig, err := g.decode(encoded)
		if err != nil {
			continue
		}
		readable++
		if hmac.Equal(sig, want) {
			return &v, nil
		}
	}
	if readable == 0 {
		return nil, refuse(name, ReasonMalformedHeader, "no %s value is a %q-prefixed %s signature", http.CanonicalHeaderKey(g.opts.Header), g.opts.Prefix, strings.ToLower(cmp.Or(g.opts.Encoding, "hex")))
	}
	return nil, refuse(name, ReasonSignatureMismatch, "none of the %d signatures matches", readable)
}
