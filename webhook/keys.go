package webhook

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"strings"
	"sync"
)

// newSecretBytes is the length of the secrets NewSecret makes: 24 bytes, 32
// base64 characters, the length Svix issues and the specification's minimum.
const newSecretBytes = 24

// NewSecret returns a new HMAC signing secret: "whsec_" followed by the
// standard base64 encoding of 24 bytes from crypto/rand.
func NewSecret() (string, error) {
	var b [newSecretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("webhook: new secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b[:]), nil
}

// NewKeyPair returns a new Ed25519 key pair for v1a signatures. publicKey is
// "whpk_" + base64 of the 32-byte public key, given to receivers;
// privateKey is "whsk_" + base64 of the 64-byte private key (seed followed by
// public key, the form Svix uses), kept by the sender.
func NewKeyPair() (publicKey, privateKey string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("webhook: new key pair: %w", err)
	}
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(pub),
		PrivateKeyPrefix + base64.StdEncoding.EncodeToString(priv), nil
}

// PublicKey returns the whpk_ public key that belongs to a whsk_ private key,
// for showing to receivers. Any other kind of string is ErrInvalidSecret.
func PublicKey(privateKey string) (string, error) {
	k, err := parseKey(privateKey)
	if err != nil {
		return "", err
	}
	if k.private == nil {
		return "", fmt.Errorf("%w: want a %s private key", ErrInvalidSecret, PrivateKeyPrefix)
	}
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(k.public), nil
}

// key is one parsed secret. Either mac is set (whsec_ or an unprefixed
// secret), or public is (whpk_ and whsk_); private is set for whsk_ only.
type key struct {
	mac     *hmacKey
	public  ed25519.PublicKey
	private ed25519.PrivateKey
}

// parseKey decodes one secret string. The prefix decides the scheme; a string
// without a known prefix is an HMAC secret, as Svix accepts it. Error messages
// describe the string but never repeat it: it is a secret.
func parseKey(s string) (key, error) {
	// Secrets travel through environment variables and files, which like to
	// end in a newline; whitespace is never part of base64.
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, PrivateKeyPrefix):
		b, err := decodeKey(s, PrivateKeyPrefix, PrivateKeyPrefix+" key")
		if err != nil {
			return key{}, err
		}
		var priv ed25519.PrivateKey
		switch len(b) {
		case ed25519.SeedSize:
			// The Standard Webhooks reference libraries serialise the seed.
			priv = ed25519.NewKeyFromSeed(b)
		case ed25519.PrivateKeySize:
			// Svix serialises seed || public key. A public half that does
			// not belong to the seed would make every signature fail to
			// verify at the receiver, so refuse it here.
			priv = ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])
			if !bytes.Equal(priv[ed25519.SeedSize:], b[ed25519.SeedSize:]) {
				return key{}, fmt.Errorf("%w: %s key: public half does not match the seed", ErrInvalidSecret, PrivateKeyPrefix)
			}
		default:
			return key{}, fmt.Errorf("%w: %s key decodes to %d bytes, want %d or %d",
				ErrInvalidSecret, PrivateKeyPrefix, len(b), ed25519.SeedSize, ed25519.PrivateKeySize)
		}
		return key{public: priv.Public().(ed25519.PublicKey), private: priv}, nil

	case strings.HasPrefix(s, PublicKeyPrefix):
		b, err := decodeKey(s, PublicKeyPrefix, PublicKeyPrefix+" key")
		if err != nil {
			return key{}, err
		}
		if len(b) != ed25519.PublicKeySize {
			return key{}, fmt.Errorf("%w: %s key decodes to %d bytes, want %d",
				ErrInvalidSecret, PublicKeyPrefix, len(b), ed25519.PublicKeySize)
		}
		return key{public: ed25519.PublicKey(b)}, nil

	default:
		b, err := decodeKey(s, SecretPrefix, "secret")
		if err != nil {
			return key{}, err
		}
		if len(b) < MinSecretBytes || len(b) > MaxSecretBytes {
			return key{}, fmt.Errorf("%w: secret decodes to %d bytes, want %d to %d",
				ErrInvalidSecret, len(b), MinSecretBytes, MaxSecretBytes)
		}
		return key{mac: newHMACKey(b)}, nil
	}
}

// decodeKey strips prefix (if present) and decodes the rest as standard,
// padded base64. what names the kind of string in errors.
func decodeKey(s, prefix, what string) ([]byte, error) {
	body := strings.TrimPrefix(s, prefix)
	if body == "" {
		return nil, fmt.Errorf("%w: %s is empty", ErrInvalidSecret, what)
	}
	b, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		// err carries the offset of the bad byte, not the secret itself.
		return nil, fmt.Errorf("%w: %s is not standard base64: %w", ErrInvalidSecret, what, err)
	}
	return b, nil
}

// hmacKey computes HMAC-SHA256 signatures with one secret. Keying an HMAC
// hashes the secret into the inner and outer pad states; a pool of keyed
// states lets each signature start from them instead, which is what makes
// signing allocation-free once the pool is warm. Safe for concurrent use.
type hmacKey struct {
	states sync.Pool // of *hmacState
}

// hmacState is one keyed HMAC with the scratch space to use it. The buffers
// live here rather than on the caller's stack because anything passed to a
// hash.Hash method escapes to the heap.
type hmacState struct {
	mac    hash.Hash
	prefix []byte            // "id.timestamp."
	sum    [sha256.Size]byte // destination of mac.Sum
}

// maxRetainedPrefix bounds the prefix buffer a pooled state keeps. Message ids
// are short; one huge id from a hostile header should not stay in memory.
const maxRetainedPrefix = 1 << 10

func newHMACKey(secret []byte) *hmacKey {
	secret = bytes.Clone(secret)
	k := &hmacKey{}
	k.states.New = func() any {
		return &hmacState{mac: hmac.New(sha256.New, secret)}
	}
	return k
}

// sum returns HMAC-SHA256(secret, "id.ts." + body).
func (k *hmacKey) sum(id string, ts int64, body []byte) [sha256.Size]byte {
	st := k.states.Get().(*hmacState)
	st.prefix = appendSignedPrefix(st.prefix[:0], id, ts)
	st.mac.Reset()
	st.mac.Write(st.prefix)
	st.mac.Write(body)
	out := [sha256.Size]byte(st.mac.Sum(st.sum[:0]))
	if cap(st.prefix) > maxRetainedPrefix {
		st.prefix = nil
	}
	k.states.Put(st)
	return out
}
