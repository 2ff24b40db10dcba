// Package sealed encrypts the secrets Hookbridge keeps in its database
// (endpoint signing secrets, inbound source credentials, settings such as
// the keys that sign portal links) under keys the operator provides, so that a copy of the database — a backup, a dump, a
// file attached to a ticket — does not give away the secrets with it.
//
// A sealed value is the text
//
//	hbenc1:<key id>:<base64url of nonce ‖ AES-256-GCM ciphertext ‖ tag>
//
// where the key id is the first 4 bytes (hex) of SHA-256 over a label and
// the key, so a value names the key that opens it without revealing it. The
// additional data is the id of the row the value belongs to, so a sealed
// value copied into another row does not open there.
//
// A Keyring has one current key, which seals, and any number of older ones,
// which only open: that is how keys are rotated. Its keys can be replaced
// while it is in use (Replace), so that a server takes a rotated key list
// without a restart. A nil *Keyring seals nothing (values are stored as
// given) and opens only values that are not sealed.
package sealed

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
)

// prefix starts every sealed value.
const prefix = "hbenc1:"

// KeyBytes is the length of a key: AES-256.
const KeyBytes = 32

// Keyring holds the keys values are sealed and opened with. It is safe for
// concurrent use, Replace included.
type Keyring struct {
	set atomic.Pointer[keySet]
}

// keySet is a Keyring's keys at one time: each call uses one set whole.
type keySet struct {
	current *key
	byID    map[string]*key
}

type key struct {
	id   string
	aead cipher.AEAD
}

// NewKey returns a new random key, base64-encoded as ParseKeys reads it.
func NewKey() string {
	b := make([]byte, KeyBytes)
	rand.Read(b) // never fails (crypto/rand)
	return base64.StdEncoding.EncodeToString(b)
}

// ParseKeys reads a comma-separated list of base64 keys of KeyBytes each:
// the first is the current key, the others are older keys kept to open what
// they sealed. An empty list is a nil Keyring: nothing is sealed.
func ParseKeys(list string) (*Keyring, error) {
	var set *keySet
	for i, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			if strings.TrimSpace(list) == "" {
				return nil, nil
			}
			return nil, fmt.Errorf("key %d is empty", i+1)
		}
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("key %d is not base64: %w", i+1, err)
		}
		if len(raw) != KeyBytes {
			return nil, fmt.Errorf("key %d is %d bytes, want %d (make one with: hookbridge keygen)", i+1, len(raw), KeyBytes)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(append([]byte("hookbridge sealed key id\x00"), raw...))
		kk := &key{id: hex.EncodeToString(sum[:4]), aead: aead}
		if set == nil {
			set = &keySet{current: kk, byID: make(map[string]*key)}
		}
		if _, dup := set.byID[kk.id]; dup {
			return nil, fmt.Errorf("key %d is listed twice", i+1)
		}
		set.byID[kk.id] = kk
	}
	k := new(Keyring)
	k.set.Store(set)
	return k, nil
}

// Replace gives k the keys of with, for every call that starts after it:
// a server whose key list changed (a rotation) seals with the new current
// key from then on, through the Keyring its store already holds. with
// must not be nil: values sealed under k must stay readable.
func (k *Keyring) Replace(with *Keyring) error {
	if k == nil || with == nil {
		return errors.New("sealed: replace: a keyring without keys cannot take or give keys")
	}
	k.set.Store(with.set.Load())
	return nil
}

// keys returns k's current set, nil for a nil Keyring.
func (k *Keyring) keys() *keySet {
	if k == nil {
		return nil
	}
	return k.set.Load()
}

// CurrentID is the id of the key that seals, "" for a nil Keyring.
func (k *Keyring) CurrentID() string {
	if k == nil {
		return ""
	}
	return k.keys().current.id
}

// IDs are the ids of k's keys, the current one first, then the others in
// no particular order; none for a nil Keyring.
func (k *Keyring) IDs() []string {
	set := k.keys()
	if set == nil {
		return nil
	}
	ids := []string{set.current.id}
	for id := range set.byID {
		if id != set.current.id {
			ids = append(ids, id)
		}
	}
	return ids
}

// IsSealed says whether v is a sealed value.
func IsSealed(v string) bool { return strings.HasPrefix(v, prefix) }

// KeyID returns the id of the key v is sealed with, "" if v is not sealed.
func KeyID(v string) string {
	rest, ok := strings.CutPrefix(v, prefix)
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, ":")
	return id
}

// Seal seals plain for the row rowID with the current key. A nil Keyring
// returns plain as it is.
func (k *Keyring) Seal(plain, rowID string) string {
	if k == nil {
		return plain
	}
	cur := k.keys().current
	nonce := make([]byte, cur.aead.NonceSize(), cur.aead.NonceSize()+len(plain)+cur.aead.Overhead())
	rand.Read(nonce)
	out := cur.aead.Seal(nonce, nonce, []byte(plain), []byte(rowID))
	return prefix + cur.id + ":" + base64.RawURLEncoding.EncodeToString(out)
}

// ErrNoKey is the error of opening a value sealed with a key the Keyring
// does not hold.
var ErrNoKey = errors.New("sealed with a key that is not configured")

// Open returns the plain text of v, sealed for the row rowID. A value that
// is not sealed (stored before a key was configured) is returned as it is.
func (k *Keyring) Open(v, rowID string) (string, error) {
	rest, ok := strings.CutPrefix(v, prefix)
	if !ok {
		return v, nil
	}
	id, data, ok := strings.Cut(rest, ":")
	if !ok {
		return "", errors.New("malformed sealed value")
	}
	var kk *key
	if set := k.keys(); set != nil {
		kk = set.byID[id]
	}
	if kk == nil {
		return "", fmt.Errorf("key %s: %w", id, ErrNoKey)
	}
	raw, err := base64.RawURLEncoding.DecodeString(data)
	if err != nil || len(raw) < kk.aead.NonceSize()+kk.aead.Overhead() {
		return "", errors.New("malformed sealed value")
	}
	n := kk.aead.NonceSize()
	plain, err := kk.aead.Open(nil, raw[:n], raw[n:], []byte(rowID))
	if err != nil {
		return "", fmt.Errorf("key %s: the value does not open (altered, or copied from another row)", id)
	}
	return string(plain), nil
}

// Fresh says whether v is stored as k would store it now: sealed with the
// current key, or, for a nil Keyring, not sealed. Values that are not are
// sealed again (Store.Reseal) when the keys change.
func (k *Keyring) Fresh(v string) bool {
	if k == nil {
		return !IsSealed(v)
	}
	return KeyID(v) == k.CurrentID()
}

// SealJSON returns the JSON of v for the row rowID as a store keeps it:
// with keys, a JSON string holding the sealed JSON of v; without, the JSON
// of v.
func (k *Keyring) SealJSON(v any, rowID string) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil || k == nil {
		return b, err
	}
	return json.Marshal(k.Seal(string(b), rowID))
}

// OpenJSON decodes into dst what SealJSON returned, sealed or not.
func (k *Keyring) OpenJSON(data []byte, rowID string, dst any) error {
	if len(data) > 0 && data[0] == '"' {
		var v string
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		plain, err := k.Open(v, rowID)
		if err != nil {
			return err
		}
		data = []byte(plain)
	}
	return json.Unmarshal(data, dst)
}

// Reseal returns v as k would store it now (see Fresh), and whether that
// differs from v: a value sealed with an older key, or not sealed, is
// opened and sealed again with the current key.
func (k *Keyring) Reseal(v, rowID string) (string, bool, error) {
	if k.Fresh(v) {
		return v, false, nil
	}
	plain, err := k.Open(v, rowID)
	if err != nil {
		return "", false, err
	}
	return k.Seal(plain, rowID), true, nil
}

// ResealJSON is Reseal for what SealJSON stored.
func (k *Keyring) ResealJSON(data []byte, rowID string) ([]byte, bool, error) {
	var v string
	sealedValue := json.Unmarshal(data, &v) == nil
	if sealedValue && k.Fresh(v) || !sealedValue && k == nil {
		return data, false, nil
	}
	var plain json.RawMessage
	if err := k.OpenJSON(data, rowID, &plain); err != nil {
		return nil, false, err
	}
	out, err := k.SealJSON(plain, rowID)
	return out, true, err
}

// ResealKeys is Reseal for the "key" member of every object of a JSON
// array (an endpoint's secrets, as the stores keep them); the other members
// are kept as they are.
func (k *Keyring) ResealKeys(data []byte, rowID string) ([]byte, bool, error) {
	var list []map[string]json.RawMessage
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, false, err
	}
	changed := false
	for _, obj := range list {
		var v string
		if err := json.Unmarshal(obj["key"], &v); err != nil {
			return nil, false, fmt.Errorf("key: %w", err)
		}
		v, c, err := k.Reseal(v, rowID)
		if err != nil {
			return nil, false, err
		}
		if c {
			obj["key"], _ = json.Marshal(v)
			changed = true
		}
	}
	if !changed {
		return data, false, nil
	}
	out, err := json.Marshal(list)
	return out, true, err
}

// ResealText is Reseal for a value stored as text.
func (k *Keyring) ResealText(data []byte, rowID string) ([]byte, bool, error) {
	v, changed, err := k.Reseal(string(data), rowID)
	return []byte(v), changed, err
}

// SealBytes is Seal for a byte value; a nil Keyring returns b as it is
// (nil stays nil).
func (k *Keyring) SealBytes(b []byte, rowID string) []byte {
	if k == nil {
		return b
	}
	return []byte(k.Seal(string(b), rowID))
}

// OpenBytes is Open for a byte value; a value that is not sealed (nil
// included) is returned as it is.
func (k *Keyring) OpenBytes(b []byte, rowID string) ([]byte, error) {
	if !IsSealed(string(b)) {
		return b, nil
	}
	plain, err := k.Open(string(b), rowID)
	return []byte(plain), err
}
