package storekit

import (
	"fmt"
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
