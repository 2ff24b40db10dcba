package hookbridge

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
)

// SettingAdminKeyHash names the setting that holds the hex SHA-256 of the
// server-wide admin key. The key itself is never stored.
const SettingAdminKeyHash = "admin_key_sha256"

// NewAdminKey returns a new random admin key: "hbk_" + 43 url-safe base64
// characters (256 bits). It contains no "." (Svix SDKs read a region suffix
// after a dot in the token).
func NewAdminKey() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("hookbridge: crypto/rand failed: " + err.Error())
	}
	return "hbk_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// HashKey returns the hex SHA-256 of an API key, the form in which keys are
// stored. Keys are high-entropy random strings, so a fast hash is enough.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// KeyMatches reports, in constant time, whether key hashes to hash.
func KeyMatches(key, hash string) bool {
	return subtle.ConstantTimeCompare([]byte(HashKey(key)), []byte(hash)) == 1
}
