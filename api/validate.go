package api

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/netguard"
)

// Limits of the Svix API.
const (
	maxNameLen          = 256   // uids, event type names, eventIds, feature flags
	maxChannelLen       = 128   // one channel
	maxEndpointChannels = 10    // channels an endpoint may filter on
	maxMessageChannels  = 5     // channels a message may carry
	maxURLLen           = 65536 // endpoint URL
	maxHeaderValueLen   = 4096  // one endpoint header value
	minSecretBytes      = 24    // decoded HMAC secret, Standard Webhooks minimum
	maxSecretBytes      = 64
	maxGracePeriod      = 7 * 24 * 3600 // secret rotation grace, seconds
	defaultGracePeriod  = 24 * 3600
	maxOldSecrets       = 10 // rotated-out secrets still signing, as in Svix
	secretPrefix        = "whsec_"
)

// checkLimitedString checks Svix's identifier shape: 1 to max characters of
// [a-zA-Z0-9-_.]. It returns what is wrong, or "".
func checkLimitedString(s string, max int) string {
	switch {
	case s == "":
		return "must not be empty"
	case len(s) > max:
		return fmt.Sprintf("must be at most %d characters", max)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return "must match ^[a-zA-Z0-9\\-_.]+$"
		}
	}
	return ""
}

// checkUID checks a uid of an entity whose ids have idPrefix. A uid may not
// look like an id ("app_…"), so that "id or uid" lookups stay unambiguous.
func checkUID(uid, idPrefix string) string {
	if msg := checkLimitedString(uid, maxNameLen); msg != "" {
		return msg
	}
	if strings.HasPrefix(uid, idPrefix+"_") {
		return fmt.Sprintf("must not start with %q, the prefix of ids", idPrefix+"_")
	}
	return ""
}

// checkText checks free text (names, descriptions): Svix refuses the control
// characters 0x00 to 0x08.
func checkText(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return r <= 0x08 }) {
		return "must not contain control characters 0x00-0x08"
	}
	return ""
}

// checkMetadata checks the keys and values of a metadata map as free text.
func checkMetadata(m map[string]string, fe *fieldErrors, path ...string) {
	for _, k := range sortedKeys(m) {
		if msg := checkText(k); msg != "" {
			fe.body("key: "+msg, append(append([]string{}, path...), k)...)
		} else if msg := checkText(m[k]); msg != "" {
			fe.body(msg, append(append([]string{}, path...), k)...)
		}
	}
}

// checkRateLimit checks a throttle rate (messages per second, a uint16 of at
// least 1).
func checkRateLimit(n int) string {
	if n < 1 || n > math.MaxUint16 {
		return fmt.Sprintf("must be from 1 to %d", math.MaxUint16)
	}
	return ""
}

// normalizeSet checks a list of identifiers (event types or channels) and
// drops duplicates, keeping the first occurrence: the API treats these lists
// as sets, as Svix does. field is the list's location in the body (one
// name, or a path for a list inside a batch item).
func normalizeSet(items []string, maxLen, maxItems int, fe *fieldErrors, field ...string) []string {
	if len(items) == 0 {
		fe.body("must not be empty; omit it or send null for no filter", field...)
		return nil
	}
	out := make([]string, 0, len(items))
	seen := make(map[string]bool, len(items)) // not slices.Contains: linear, whatever the list's length
	for _, it := range items {
		if msg := checkLimitedString(it, maxLen); msg != "" {
			fe.body(fmt.Sprintf("%q %s", it, msg), field...)
			continue
		}
		if !seen[it] {
			seen[it] = true
			out = append(out, it)
		}
	}
	if maxItems > 0 && len(out) > maxItems {
		fe.body(fmt.Sprintf("must have at most %d items", maxItems), field...)
	}
	return out
}

// checkURL checks an endpoint URL: its shape (http, https or a broker's:
// hookbridge.ParseEndpointURL) and, through the guard, that it does not
// name a private or special-purpose address, and that it is encrypted with
// --https-only.
func (s *Server) checkURL(raw string) string {
	if raw == "" {
		return "must not be empty"
	}
	if len(raw) > maxURLLen {
		return fmt.Sprintf("must be at most %d characters", maxURLLen)
	}
	if err := s.guard.CheckURL(raw); err != nil {
		var blocked *netguard.BlockedError
		if errors.As(err, &blocked) {
			return "refused: " + blocked.Error()
		}
		return err.Error()
	}
	return ""
}

// unmaskURL returns the URL to store for given, an endpoint URL sent in
// place of stored ("" when the endpoint is new): given as it is, or, when
// it is the URL as shown with the password masked, with the stored
// password in place of the mask (hookbridge.UnmaskURL). A mask that stands
// for no stored password is a 422 on url.
func unmaskURL(given, stored string) (string, error) {
	u, err := hookbridge.UnmaskURL(given, stored)
	if err != nil {
		var fe fieldErrors
		fe.body(err.Error(), "url")
		return "", fe.err()
	}
	return u, nil
}

// normalizeSecret checks an endpoint secret given by the caller: base64 of
// 24 to 64 bytes, optionally prefixed with "whsec_". It returns the secret
// in its stored form, always prefixed.
func normalizeSecret(s string) (string, string) {
	b64 := strings.TrimPrefix(s, secretPrefix)
	if len(b64) < 32 || len(b64) > 100 {
		return "", "must match ^(whsec_)?[a-zA-Z0-9+/=]{32,100}$"
	}
	for i := 0; i < len(b64); i++ {
		c := b64[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return "", "must match ^(whsec_)?[a-zA-Z0-9+/=]{32,100}$"
		}
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", "is not valid base64"
	}
	if len(raw) < minSecretBytes || len(raw) > maxSecretBytes {
		return "", fmt.Sprintf("must encode %d to %d bytes, not %d", minSecretBytes, maxSecretBytes, len(raw))
	}
	return secretPrefix + b64, ""
}

// forbiddenHeaders may not be set on an endpoint: hop-by-hop and framing
// headers the HTTP client owns, caching headers, and the ones that describe
// the body. The list is Svix's plus Host.
var forbiddenHeaders = []string{
	"host", "connection", "user-agent", "keep-alive", "proxy-authenticate",
	"proxy-authorization", "te", "trailer", "trailers", "transfer-encoding",
	"upgrade", "age", "cache-control", "clear-site-data", "expires", "pragma",
	"warning", "content-length", "content-type", "content-encoding",
	"content-language", "content-location",
}

// forbiddenHeaderPrefixes are reserved: the signature headers (webhook-*,
// and svix-* which receivers may read as aliases) and cloud provider
// headers, as in Svix.
var forbiddenHeaderPrefixes = []string{
	"webhook-", "svix-", "x-svix-", "x-amz-", "x-amzn-", "x-google", "x-goog-",
	"x-gfe", "x-azure-", "x-fd-",
}

// sensitiveHeaders are not shown by GET …/headers: their names are listed in
// "sensitive" and their values withheld, as Svix does.
var sensitiveHeaders = []string{
	"x-auth-token", "x-api-key", "www-authenticate", "authorization",
	"proxy-authenticate", "proxy-authorization",
}

// checkHeaderName returns what is wrong with an endpoint header name, or "".
func checkHeaderName(name string) string {
	if name == "" {
		return "header name must not be empty"
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return fmt.Sprintf("%q is not a valid header name", name)
		}
	}
	lower := strings.ToLower(name)
	if slices.Contains(forbiddenHeaders, lower) {
		return fmt.Sprintf("%q may not be set on an endpoint", name)
	}
	for _, p := range forbiddenHeaderPrefixes {
		if strings.HasPrefix(lower, p) {
			return fmt.Sprintf("%q uses the reserved prefix %q", name, p)
		}
	}
	return ""
}

// checkHeaderValue returns what is wrong with an endpoint header value, or "".
func checkHeaderValue(name, value string) string {
	if len(value) > maxHeaderValueLen {
		return fmt.Sprintf("value of %q must be at most %d bytes", name, maxHeaderValueLen)
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return fmt.Sprintf("value of %q contains a control character", name)
		}
	}
	return ""
}

// isTokenChar reports whether c may appear in an HTTP header name (RFC 9110
// tchar).
func isTokenChar(c byte) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// checkHeaders checks a whole header map; header names are compared without
// regard to case, so two spellings of one name are refused.
func checkHeaders(h map[string]string, fe *fieldErrors) {
	seen := make(map[string]bool, len(h))
	for _, name := range sortedKeys(h) {
		if msg := checkHeaderName(name); msg != "" {
			fe.body(msg, "headers", name)
			continue
		}
		if msg := checkHeaderValue(name, h[name]); msg != "" {
			fe.body(msg, "headers", name)
		}
		lower := strings.ToLower(name)
		if seen[lower] {
			fe.body(fmt.Sprintf("%q is given more than once (header names ignore case)", name), "headers", name)
		}
		seen[lower] = true
	}
}

// sortedKeys returns the keys of m in order, for deterministic errors and
// output.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// missingEventTypes is the 422 for an endpoint filter naming event types
// that are not in the catalogue; field is the name the caller used.
func missingEventTypes(missing []string, field string) error {
	var fe fieldErrors
	fe.body("the following event types don't exist or are archived: "+strings.Join(missing, ", "), field)
	return fe.err()
}
