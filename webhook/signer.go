package webhook

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// stackSignatureLen sizes the stack buffer Sign and SetHeaders format into:
// room for four entries of either kind, so a rotation's two or three keys
// never need a heap buffer beyond the final string.
const stackSignatureLen = 4 * (ed25519EntryLen + 1)

// maxRetainedMessage bounds the buffer a pooled Ed25519 message keeps, so one
// unusually large payload does not pin its size in memory for good.
const maxRetainedMessage = 1 << 20

// A Signer produces the webhook-signature header for outgoing messages. It
// holds one or more keys and signs with each of them, so while a secret is
// being rotated receivers holding either the old or the new one can verify.
//
// Build a Signer with NewSigner (the zero value holds no keys and signs
// nothing), once per set of keys, and reuse it: building one decodes the
// keys, and signing reuses keyed HMAC state between calls. A Signer is safe
// for concurrent use.
type Signer struct {
	keys   []key
	sigLen int       // length of the header value AppendSignature appends
	msgs   sync.Pool // of *[]byte: the signed content, for Ed25519 keys
}

// NewSigner returns a Signer for the given secrets, in the order their
// signatures appear in the header. Each is a whsec_ HMAC secret (the prefix
// may be omitted) or a whsk_ Ed25519 private key. A whpk_ public key cannot
// sign and is refused with ErrInvalidSecret, as is any malformed secret.
func NewSigner(secrets ...string) (*Signer, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: a signer needs at least one secret", ErrInvalidSecret)
	}
	s := &Signer{keys: make([]key, 0, len(secrets))}
	for i, secret := range secrets {
		k, err := parseKey(secret)
		if err != nil {
			return nil, fmt.Errorf("secret %d of %d: %w", i+1, len(secrets), err)
		}
		switch {
		case k.mac != nil:
			s.sigLen += hmacEntryLen
		case k.private != nil:
			s.sigLen += ed25519EntryLen
		default:
			return nil, fmt.Errorf("secret %d of %d: %w: a %s public key cannot sign, use the %s private key",
				i+1, len(secrets), ErrInvalidSecret, PublicKeyPrefix, PrivateKeyPrefix)
		}
		s.keys = append(s.keys, k)
	}
	s.sigLen += len(s.keys) - 1 // separating spaces
	return s, nil
}

// AppendSignature appends the webhook-signature header value for the message
// (id, ts, body) to dst and returns the extended slice. ts is the unix time in
// seconds that goes into the webhook-timestamp header. It is the form for hot
// paths: with HMAC keys and a dst of sufficient capacity it does not allocate.
func (s *Signer) AppendSignature(dst []byte, id string, ts int64, body []byte) []byte {
	var msg *[]byte // the whole signed content, assembled for the first Ed25519 key
	for i := range s.keys {
		k := &s.keys[i]
		if i > 0 {
			dst = append(dst, ' ')
		}
		if k.mac != nil {
			sum := k.mac.sum(id, ts, body)
			dst = append(dst, versionHMAC+","...)
			dst = base64.StdEncoding.AppendEncode(dst, sum[:])
			continue
		}
		// Ed25519 signs the message as one slice, so the content has to be
		// assembled in a buffer; it is built once for all Ed25519 keys.
		if msg == nil {
			msg = s.message()
			*msg = append(appendSignedPrefix((*msg)[:0], id, ts), body...)
		}
		dst = append(dst, versionEd25519+","...)
		dst = base64.StdEncoding.AppendEncode(dst, ed25519.Sign(k.private, *msg))
	}
	if msg != nil {
		if cap(*msg) > maxRetainedMessage {
			*msg = nil
		}
		s.msgs.Put(msg)
	}
	return dst
}

// SignatureLen returns the length of the header value AppendSignature
// appends, so a caller can size dst once.
func (s *Signer) SignatureLen() int { return s.sigLen }

// message returns a scratch buffer for the signed content.
func (s *Signer) message() *[]byte {
	if m, ok := s.msgs.Get().(*[]byte); ok {
		return m
	}
	return new([]byte)
}

// Sign returns the webhook-signature header value for the message (id, ts,
// body): one space-separated "v1,<base64>" or "v1a,<base64>" entry per key.
// Only the whole seconds of ts are signed.
func (s *Signer) Sign(id string, ts time.Time, body []byte) string {
	// A stack buffer covers the common case of a few keys, leaving the
	// string conversion as the only allocation.
	var buf [stackSignatureLen]byte
	return string(s.AppendSignature(buf[:0], id, ts.Unix(), body))
}

// SetHeaders signs the message (id, ts, body) and sets the webhook-id,
// webhook-timestamp and webhook-signature headers on h, replacing any values
// they had. body must be exactly the bytes sent as the request body.
func (s *Signer) SetHeaders(h http.Header, id string, ts time.Time, body []byte) {
	unix := ts.Unix()
	var buf [stackSignatureLen]byte
	sig := string(s.AppendSignature(buf[:0], id, unix, body))
	// One backing array for the three one-element value slices; the full
	// slice expressions keep an append to one from running into the next.
	v := []string{id, strconv.FormatInt(unix, 10), sig}
	h[canonicalID] = v[0:1:1]
	h[canonicalTimestamp] = v[1:2:2]
	h[canonicalSignature] = v[2:3:3]
}
