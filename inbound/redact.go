// Masking of card data before a notification is stored.
//
// Processors do not send full card numbers in webhooks, but merchants put
// text of their own into them (references, descriptions, metadata), and a
// card number typed into the wrong field travels along. Redact removes what
// must never be stored: primary account numbers are masked to their last
// four digits, and card security codes are dropped with their field.

package inbound

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// Redact returns the body with every primary account number masked to its
// last four digits and every card security code field dropped; everything
// else is kept byte for byte where the format allows. It reads:
//
//   - JSON: every string value, keys
//     included, is searched for card numbers; a member whose name is a
//     security code's (cvv, cvc, cvc2, securityCode, card_cvv, …) is
//     removed with its value, whatever the value is. Numbers are left
//     alone: processors write ids as numbers, and a card number is text.
//   - XML (a body starting with <): elements named like a security code are
//     removed; card numbers are masked in the rest.
//   - form-encoded bodies (Braintree's bt_signature=…&bt_payload=…): pairs
//     named like a security code are removed; values are searched, and a
//     value that is base64 of JSON or XML (Braintree's bt_payload) is
//     decoded, redacted and encoded again.
//   - anything else, or a body that does not parse: card numbers are masked
//     wherever they are.
//
// A card number is a run of 13 to 19 digits, optionally grouped by single
// spaces or dashes, not glued to letters or other digits, with a card
// network's prefix (Visa 4, Mastercard 51–55 and 2221–2720, Mir 2200–2204,
// American Express, Diners and JCB 3…, Discover, UnionPay and Maestro 5
// and 6), and passing the Luhn check; 13 digits only for Visa. The prefix
// rule keeps millisecond timestamps (1…), Adyen's pspReferences (7…, 8…,
// 9…) and compact dates (20…) intact. Masking replaces every digit but the
// last four with "*" and keeps the grouping: "4242 4242 4242 4242" becomes
// "**** **** **** 4242".
//
// The signature must be verified on the original bytes: Redact is for what
// is stored afterwards. The result may share memory with body; when there is
// nothing to remove it is body itself.
func Redact(body []byte) []byte {
	return redact(body, 0)
}

// maxRedactNesting bounds how deep Redact follows a format inside another
// (base64 JSON or XML inside a form value).
const maxRedactNesting = 2

func redact(body []byte, nesting int) []byte {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return body
	}
	if out, err := redactJSON(body); err == nil {
		return out
	}
	switch trimmed[0] {
	case '{', '[', '"':
		// Broken JSON: masked as text below.
	case '<':
		if out, err := redactXML(body); err == nil {
			return out
		}
	default:
		if out, ok := redactForm(body, nesting); ok {
			return out
		}
	}
	out, _ := maskPANs(body)
	return out
}

// isSecurityCodeName reports whether a field name is that of a card
// security code. Names are compared in lower case without punctuation, so
// cvc2, CVC2, card_cvc, cardCvc and card-security-code all match; names
// that merely contain one (Stripe's cvc_check, a result) do not.
func isSecurityCodeName(name string) bool {
	var b strings.Builder
	for _, c := range []byte(name) {
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			b.WriteByte(c)
		case 'A' <= c && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		}
	}
	n := b.String()
	switch n {
	case "csc", "cvd", "cav2", "cardverificationvalue", "cardverificationcode":
		return true
	}
	for _, suffix := range []string{"cvv", "cvv2", "cvc", "cvc2", "cvn", "cvn2", "securitycode"} {
		if strings.HasSuffix(n, suffix) {
			return true
		}
	}
	return false
}

// maskPANs masks the card numbers in text (see Redact). It returns text
// itself, and false, when there are none.
func maskPANs(text []byte) ([]byte, bool) {
	var out []byte // a copy, made at the first change
	type group struct{ start, end int }
	var groups []group
	for i := 0; i < len(text); {
		if !isDigit(text[i]) {
			i++
			continue
		}
		// A run: digit groups joined by single spaces or dashes.
		start := i
		groups = groups[:0]
		for {
			gs := i
			for i < len(text) && isDigit(text[i]) {
				i++
			}
			groups = append(groups, group{gs, i})
			if i+1 < len(text) && (text[i] == ' ' || text[i] == '-') && isDigit(text[i+1]) {
				i++
				continue
			}
			break
		}
		end := i
		// A run glued to a letter or digit is part of an identifier; one
		// right after a "*" is the tail of a number masked already, and
		// reading it again with what follows must not find another.
		leftOK := start == 0 || !isAlnum(text[start-1]) && text[start-1] != '*'
		rightOK := end == len(text) || !isAlnum(text[end])
		// Look for a card number among consecutive groups, longest
		// first, so that "4242…4242 123" (number, then code) is found.
		// A card number has at most 19 digits, so at most 19 groups are
		// tried from each: the work stays linear in the text.
		for a := 0; a < len(groups); {
			found := -1
			var digits []byte
			for b := a; b < len(groups); b++ {
				digits = append(digits, text[groups[b].start:groups[b].end]...)
				if len(digits) > 19 {
					break
				}
				if (a == 0 && !leftOK) || (b == len(groups)-1 && !rightOK) {
					continue
				}
				if looksLikePAN(digits) {
					found = b // keep looking: a longer one wins
				}
			}
			if found < 0 {
				a++
				continue
			}
			if out == nil {
				out = bytes.Clone(text)
			}
			// Every digit but the last four.
			keep := 4
			for k := groups[found].end - 1; k >= groups[a].start; k-- {
				if !isDigit(out[k]) {
					continue
				}
				if keep > 0 {
					keep--
					continue
				}
				out[k] = '*'
			}
			a = found + 1
		}
	}
	if out == nil {
		return text, false
	}
	return out, true
}

// looksLikePAN reports whether digits are a card number: 13 to 19 of them
// (13 only for Visa), a card network's prefix, and the Luhn check.
func looksLikePAN(d []byte) bool {
	n := len(d)
	if n < 13 || n > 19 {
		return false
	}
	switch d[0] {
	case '4':
	case '5', '6':
		if n == 13 {
			return false
		}
	case '3': // 30…, 34–39: Diners, American Express, JCB
		if n == 13 || d[1] == '1' || d[1] == '2' || d[1] == '3' {
			return false
		}
	case '2': // Mir 2200–2204, Mastercard 2221–2720
		p, _ := strconv.Atoi(string(d[:4]))
		if n < 16 || !(p >= 2200 && p <= 2204 || p >= 2221 && p <= 2720) {
			return false
		}
	default:
		return false
	}
	return luhn(d)
}

// luhn reports whether the digits pass the Luhn (mod 10) check.
func luhn(d []byte) bool {
	sum := 0
	for i := range d {
		v := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			if v *= 2; v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isAlnum(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// maskString is maskPANs for a string, for the fields of a canonical
// payload.
func maskString(s string) string {
	if out, changed := maskPANs([]byte(s)); changed {
		return string(out)
	}
	return s
}

// maxJSONDepth bounds the nesting redactJSON follows; a deeper body is
// masked as text instead.
const maxJSONDepth = 10000

// jsonRedactor copies a JSON text, masking card numbers in strings and
// leaving out security-code members. Bytes it has no reason to change are
// copied as they are, whitespace included.
type jsonRedactor struct {
	in      []byte
	pos     int
	out     []byte
	changed bool
}

var errNotJSON = errors.New("not JSON")

func redactJSON(body []byte) ([]byte, error) {
	r := &jsonRedactor{in: body, out: make([]byte, 0, len(body))}
	r.out = append(r.out, r.ws()...)
	if err := r.value(true, 0); err != nil {
		return nil, err
	}
	r.out = append(r.out, r.ws()...)
	if r.pos != len(r.in) {
		return nil, errNotJSON
	}
	if !r.changed {
		return body, nil
	}
	return r.out, nil
}

// ws skips whitespace and returns it.
func (r *jsonRedactor) ws() []byte {
	start := r.pos
	for r.pos < len(r.in) {
		switch r.in[r.pos] {
		case ' ', '\t', '\r', '\n':
			r.pos++
			continue
		}
		break
	}
	return r.in[start:r.pos]
}

// value reads one value; with emit, it appends it (redacted) to out.
func (r *jsonRedactor) value(emit bool, depth int) error {
	if r.pos >= len(r.in) {
		return errNotJSON
	}
	if depth > maxJSONDepth {
		return errNotJSON
	}
	switch c := r.in[r.pos]; {
	case c == '{':
		return r.object(emit, depth)
	case c == '[':
		return r.array(emit, depth)
	case c == '"':
		raw, err := r.str()
		if err != nil {
			return err
		}
		if emit {
			r.out = append(r.out, r.maskedString(raw)...)
		}
		return nil
	default:
		start := r.pos
		for r.pos < len(r.in) && (isAlnum(r.in[r.pos]) || strings.IndexByte("+-.", r.in[r.pos]) >= 0) {
			r.pos++
		}
		if r.pos == start {
			return errNotJSON
		}
		if emit {
			r.out = append(r.out, r.in[start:r.pos]...)
		}
		return nil
	}
}

// object reads an object. A security-code member is left out together with
// the separator before it (or, for the first member, the one after it), so
// that the output stays valid JSON and keeps the spacing of the rest.
func (r *jsonRedactor) object(emit bool, depth int) error {
	r.pos++ // {
	lead := r.ws()
	if emit {
		r.out = append(r.out, '{')
		r.out = append(r.out, lead...)
	}
	if r.pos < len(r.in) && r.in[r.pos] == '}' {
		r.pos++
		if emit {
			r.out = append(r.out, '}')
		}
		return nil
	}
	var sep []byte // what stood between the previous member and this one
	written := false
	for {
		keyStart := r.pos
		if r.pos >= len(r.in) || r.in[r.pos] != '"' {
			return errNotJSON
		}
		rawKey, err := r.str()
		if err != nil {
			return err
		}
		r.ws()
		if r.pos >= len(r.in) || r.in[r.pos] != ':' {
			return errNotJSON
		}
		r.pos++
		r.ws()
		var key string
		if json.Unmarshal(rawKey, &key) != nil {
			return errNotJSON
		}
		drop := isSecurityCodeName(key)
		if drop {
			r.changed = true
		} else if emit {
			if written {
				r.out = append(r.out, sep...)
			}
			r.out = append(r.out, r.maskedString(rawKey)...)
			r.out = append(r.out, r.in[keyStart+len(rawKey):r.pos]...)
		}
		if err := r.value(emit && !drop, depth+1); err != nil {
			return err
		}
		written = written || !drop
		sepStart := r.pos
		r.ws()
		if r.pos >= len(r.in) {
			return errNotJSON
		}
		switch r.in[r.pos] {
		case ',':
			r.pos++
			r.ws()
			sep = r.in[sepStart:r.pos]
		case '}':
			r.pos++
			if emit {
				r.out = append(r.out, r.in[sepStart:r.pos]...)
			}
			return nil
		default:
			return errNotJSON
		}
	}
}

func (r *jsonRedactor) array(emit bool, depth int) error {
	r.pos++ // [
	lead := r.ws()
	if emit {
		r.out = append(r.out, '[')
		r.out = append(r.out, lead...)
	}
	if r.pos < len(r.in) && r.in[r.pos] == ']' {
		r.pos++
		if emit {
			r.out = append(r.out, ']')
		}
		return nil
	}
	for {
		if err := r.value(emit, depth+1); err != nil {
			return err
		}
		sepStart := r.pos
		r.ws()
		if r.pos >= len(r.in) {
			return errNotJSON
		}
		end := false
		switch r.in[r.pos] {
		case ',':
			r.pos++
			r.ws()
		case ']':
			r.pos++
			end = true
		default:
			return errNotJSON
		}
		if emit {
			r.out = append(r.out, r.in[sepStart:r.pos]...)
		}
		if end {
			return nil
		}
	}
}

// str reads a string token and returns it raw, quotes included.
func (r *jsonRedactor) str() ([]byte, error) {
	start := r.pos
	r.pos++ // "
	for r.pos < len(r.in) {
		switch c := r.in[r.pos]; {
		case c == '\\':
			r.pos += 2
		case c == '"':
			r.pos++
			return r.in[start:r.pos], nil
		case c < 0x20:
			return nil, errNotJSON
		default:
			r.pos++
		}
	}
	return nil, errNotJSON
}

// maskedString returns a raw string token with its card numbers masked:
// the token itself when there are none, else the masked text encoded anew.
func (r *jsonRedactor) maskedString(raw []byte) []byte {
	digits := 0
	for _, c := range raw {
		if isDigit(c) {
			digits++
		}
	}
	escaped := bytes.IndexByte(raw, '\\') >= 0
	if digits < 13 && !escaped {
		return raw
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return raw
	}
	masked, changed := maskPANs([]byte(s))
	if !changed {
		return raw
	}
	r.changed = true
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(string(masked))
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// redactXML leaves out the elements named like a security code and masks
// card numbers in the rest.
func redactXML(body []byte) ([]byte, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	type span struct{ start, end int64 }
	var drops []span
	skipping, depth := false, 0
	var dropStart int64
	for {
		before := d.InputOffset()
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch {
			case skipping:
				depth++
			case isSecurityCodeName(t.Name.Local):
				skipping, depth, dropStart = true, 1, before
			}
		case xml.EndElement:
			if skipping {
				if depth--; depth == 0 {
					skipping = false
					drops = append(drops, span{dropStart, d.InputOffset()})
				}
			}
		}
	}
	if skipping {
		return nil, errors.New("unclosed element")
	}
	out := body
	if len(drops) > 0 {
		out = make([]byte, 0, len(body))
		prev := int64(0)
		for _, s := range drops {
			out = append(out, body[prev:s.start]...)
			prev = s.end
		}
		out = append(out, body[prev:]...)
	}
	masked, _ := maskPANs(out)
	return masked, nil
}

// redactForm redacts a form-encoded body pair by pair. It reports false
// when the body is not one (bytes outside printable ASCII, or no pair).
func redactForm(body []byte, nesting int) ([]byte, bool) {
	if bytes.IndexByte(body, '=') < 0 {
		return nil, false
	}
	for _, c := range body {
		if c < 0x21 || c > 0x7e {
			return nil, false
		}
	}
	pairs := bytes.Split(body, []byte("&"))
	kept := make([][]byte, 0, len(pairs))
	changed := false
	for _, pair := range pairs {
		k, v, _ := bytes.Cut(pair, []byte("="))
		key, err := url.QueryUnescape(string(k))
		if err != nil {
			return nil, false
		}
		if isSecurityCodeName(key) {
			changed = true
			continue
		}
		value, err := url.QueryUnescape(string(v))
		if err != nil {
			return nil, false
		}
		newValue := redactFormValue(value, nesting)
		maskedKey := maskString(key)
		if newValue == value && maskedKey == key {
			kept = append(kept, pair)
			continue
		}
		changed = true
		kept = append(kept, []byte(url.QueryEscape(maskedKey)+"="+url.QueryEscape(newValue)))
	}
	if !changed {
		return body, true
	}
	return bytes.Join(kept, []byte("&")), true
}

// redactFormValue masks one form value; a value that is base64 of JSON or
// XML (Braintree's bt_payload) is decoded, redacted and encoded again.
func redactFormValue(value string, nesting int) string {
	if nesting < maxRedactNesting && len(value) >= 16 {
		compact := strings.NewReplacer("\n", "", "\r", "").Replace(value)
		if decoded, err := base64.StdEncoding.DecodeString(compact); err == nil {
			trimmed := bytes.TrimLeft(decoded, " \t\r\n")
			if len(trimmed) > 0 && (trimmed[0] == '<' || trimmed[0] == '{' || trimmed[0] == '[') {
				inner := redact(decoded, nesting+1)
				if bytes.Equal(inner, decoded) {
					return value
				}
				return base64.StdEncoding.EncodeToString(inner)
			}
		}
	}
	return maskString(value)
}
