package inbound

import (
	"bytes"
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"hash"
	"strconv"
	"strings"
	"time"
)

// maxSignatures bounds the signature entries a scheme reads from one request.
// A processor rotating its secret sends one per live secret; an unbounded
// list would let anyone who can reach the endpoint make it compute as many
// MACs as the header has room for.
const maxSignatures = 32

// macOf returns the HMAC of the concatenated parts under key.
func macOf(h func() hash.Hash, key []byte, parts ...[]byte) []byte {
	m := hmac.New(h, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// verifyHexBodyMAC checks the common shape: one header holding the hex MAC
// of the raw body under key.
func verifyHexBodyMAC(scheme string, req *Request, name string, h func() hash.Hash, key []byte) error {
	given := strings.TrimSpace(req.Header.Get(name))
	if given == "" {
		return refuse(scheme, ReasonMissingHeader, "no %s header", name)
	}
	sig, err := hex.DecodeString(given)
	if err != nil {
		return refuse(scheme, ReasonMalformedHeader, "%s is not hex", name)
	}
	if !hmac.Equal(sig, macOf(h, key, req.Body)) {
		return refuse(scheme, ReasonSignatureMismatch, "%s does not match the body", name)
	}
	return nil
}

// checkTimestamp enforces the tolerance around a signed timestamp, in both
// directions: a timestamp from the future is as suspect as one from the past,
// since a sender whose clock is ahead would otherwise get a longer replay
// window. A negative tolerance disables the check.
func checkTimestamp(scheme string, signed, now time.Time, tolerance time.Duration) error {
	if tolerance < 0 {
		return nil
	}
	age := now.Sub(signed)
	if age > tolerance {
		return refuse(scheme, ReasonTooOld, "signed %s before this clock, tolerance %s", age.Truncate(time.Second), tolerance)
	}
	if age < -tolerance {
		return refuse(scheme, ReasonTooNew, "signed %s after this clock, tolerance %s", (-age).Truncate(time.Second), tolerance)
	}
	return nil
}

// parseUnixSeconds parses a decimal unix time: digits only, no sign, no
// leading zero, as processors write it. Holding to one spelling keeps the
// digits that were signed and the digits that are checked the same.
func parseUnixSeconds(s string) (time.Time, bool) {
	if s == "" || len(s) > 19 || (s[0] == '0' && len(s) > 1) {
		return time.Time{}, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// jsonID returns the top-level field of a JSON object body as a string, for
// the event ids processors put in their bodies. A string or a number is
// returned as written; anything else, or a body that is not a JSON object,
// gives "". The signature has already been checked, so a body without an id
// is the processor's choice, not a reason to refuse.
func jsonID(body []byte, field string) string {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return ""
	}
	return jsonScalar(obj[field])
}

// jsonScalar returns a raw JSON string or number as text, "" for anything
// else.
func jsonScalar(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch {
	case raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return s
	case raw[0] == '-' || ('0' <= raw[0] && raw[0] <= '9'):
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return ""
		}
		return n.String()
	}
	return ""
}

// ids returns a one-element slice for a non-empty id, nil otherwise.
func ids(id string) []string {
	if id == "" {
		return nil
	}
	return []string{id}
}
