package storekit

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/sealed"
)

// StoredSecret is how both stores keep one of an endpoint's secrets: an
// element of the JSON array in endpoints.secrets, its key sealed for the
// endpoint (see package sealed).
type StoredSecret struct {
	Key     string `json:"key"`
	Expires int64  `json:"expires,omitempty"` // unix ms; absent for the current secret
}

// SealSecrets is the stored form of an endpoint's secrets, each key sealed
// for the endpoint with keys (as it is, when keys is nil).
func SealSecrets(keys *sealed.Keyring, endpointID string, secrets []hookbridge.Secret) []StoredSecret {
	out := make([]StoredSecret, len(secrets))
	for i, s := range secrets {
		out[i] = StoredSecret{Key: keys.Seal(s.Key, endpointID)}
		if !s.Expires.IsZero() {
			out[i].Expires = s.Expires.UnixMilli()
		}
	}
	return out
}

// OpenSecrets opens what SealSecrets stored.
func OpenSecrets(keys *sealed.Keyring, endpointID string, stored []StoredSecret) ([]hookbridge.Secret, error) {
	if len(stored) == 0 {
		return nil, nil
	}
	out := make([]hookbridge.Secret, len(stored))
	for i, s := range stored {
		key, err := keys.Open(s.Key, endpointID)
		if err != nil {
			return nil, fmt.Errorf("endpoint %s: secret: %w", endpointID, err)
		}
		out[i] = hookbridge.Secret{Key: key}
		if s.Expires != 0 {
			out[i].Expires = time.UnixMilli(s.Expires).UTC()
		}
	}
	return out, nil
}

// SealURL is the stored form of an endpoint's URL: its secret, the
// password of its user or a NATS token (what MaskURL masks), sealed for
// the endpoint in its place; the rest as it is, so that the URL still
// reads as a URL to whoever looks at the row. A URL without credentials
// (every HTTP URL) is stored as it is.
func SealURL(keys *sealed.Keyring, endpointID, url string) string {
	before, secret, after, ok := urlSecret(url)
	if !ok {
		return url
	}
	return before + keys.Seal(secret, endpointID) + after
}

// OpenURL opens what SealURL stored. A secret stored before URLs were
// sealed (in the clear) comes back as it is, until Reseal seals it. A URL
// without credentials costs one search of its authority: the claim and
// the fan-out read every endpoint's URL.
func OpenURL(keys *sealed.Keyring, endpointID, stored string) (string, error) {
	before, secret, after, ok := urlSecret(stored)
	if !ok || !sealed.IsSealed(secret) {
		return stored, nil
	}
	plain, err := keys.Open(secret, endpointID)
	if err != nil {
		return "", fmt.Errorf("endpoint %s: url: %w", endpointID, err)
	}
	return before + plain + after, nil
}

// urlSecret splits a stored URL around its secret, sealed or not: a NATS
// token (the whole userinfo of a nats:// or tls:// URL, which holds the
// colons of a sealed value, or none), else the password after the user's
// colon.
func urlSecret(stored string) (before, secret, after string, ok bool) {
	before, userinfo, after, scheme, ok := hookbridge.URLUserinfo(stored)
	if !ok {
		return "", "", "", false
	}
	if hookbridge.IsTokenScheme(scheme) && (sealed.IsSealed(userinfo) || userinfo != "" && !strings.Contains(userinfo, ":")) {
		return before, userinfo, after, true
	}
	user, password, ok := strings.Cut(userinfo, ":")
	if !ok {
		return "", "", "", false
	}
	return before + user + ":", password, after, true
}

// resealURL is Reseal for what SealURL stored; it seals a secret stored
// in the clear.
func resealURL(keys *sealed.Keyring, data []byte, endpointID string) ([]byte, bool, error) {
	_, secret, _, ok := urlSecret(string(data))
	if !ok || keys.Fresh(secret) {
		return data, false, nil
	}
	plain, err := OpenURL(keys, endpointID, string(data))
	if err != nil {
		return nil, false, err
	}
	return []byte(SealURL(keys, endpointID, plain)), true, nil
}

// SealHeaders is the stored form of an endpoint's headers (sent with
// each delivery, and so a place for a receiver's token): each value sealed
// for the endpoint, the names as they are.
func SealHeaders(keys *sealed.Keyring, endpointID string, headers map[string]string) map[string]string {
	if headers == nil {
		return nil
	}
	out := make(map[string]string, len(headers))
	for name, v := range headers {
		out[name] = keys.Seal(v, endpointID)
	}
	return out
}

// OpenHeaders opens what SealHeaders stored, in place. A value stored in
// the clear comes back as it is, until Reseal seals it.
func OpenHeaders(keys *sealed.Keyring, endpointID string, stored map[string]string) error {
	for name, v := range stored {
		plain, err := keys.Open(v, endpointID)
		if err != nil {
			return fmt.Errorf("endpoint %s: header %s: %w", endpointID, name, err)
		}
		stored[name] = plain
	}
	return nil
}

// resealHeaders is Reseal for what SealHeaders stored (a JSON object of
// strings), and seals values stored in the clear.
func resealHeaders(keys *sealed.Keyring, data []byte, endpointID string) ([]byte, bool, error) {
	if len(data) == 0 || string(data) == "null" {
		return data, false, nil
	}
	var headers map[string]string
	if err := json.Unmarshal(data, &headers); err != nil {
		return nil, false, err
	}
	changed := false
	for name, v := range headers {
		v, c, err := keys.Reseal(v, endpointID)
		if err != nil {
			return nil, false, fmt.Errorf("header %s: %w", name, err)
		}
		headers[name], changed = v, changed || c
	}
	if !changed {
		return data, false, nil
	}
	out, err := json.Marshal(headers)
	return out, true, err
}

// OpenEndpoint opens what a store read of e: its secrets (stored, as
// SealSecrets made them), its URL's credentials (SealURL) and its headers
// (SealHeaders), in place.
func OpenEndpoint(keys *sealed.Keyring, e *hookbridge.Endpoint, stored []StoredSecret) error {
	var err error
	if e.Secrets, err = OpenSecrets(keys, e.ID, stored); err != nil {
		return err
	}
	if e.URL, err = OpenURL(keys, e.ID, e.URL); err != nil {
		return err
	}
	return OpenHeaders(keys, e.ID, e.Headers)
}

// openSetting is the answer of Store.Setting for name, given what the
// store's query read (stored, err): settings are sealed like other secrets,
// for their name, since some are keys.
func openSetting(keys *sealed.Keyring, name, stored string, err error) (string, error) {
	if err != nil {
		return "", Err(err, "setting", nil, "setting %s", name)
	}
	v, err := keys.Open(stored, name)
	if err != nil {
		return "", fmt.Errorf("setting %s: %w", name, err)
	}
	return v, nil
}
