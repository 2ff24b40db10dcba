package webhook

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"encoding/base64"
	"fmt"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A Verifier checks the signature headers of incoming webhooks. Build one
// with NewVerifier (the zero value holds no keys and is not usable), once per
// set of keys, and share it: it is safe for concurrent use.
type Verifier struct {
	ring      *keyring
	tolerance time.Duration
}

// keyring is the part of a Verifier that WithTolerance shares between copies.
type keyring struct {
	macs    []*hmacKey
	publics []ed25519.PublicKey
	scratch sync.Pool // of *verifyScratch
}

// verifyScratch holds the buffers one verification needs. The signature
// header is copied into sig so its entries can be compared as byte slices:
// hmac.Equal and base64 decoding take []byte, and converting each entry from
// the header string would allocate.
type verifyScratch struct {
	sig []byte
	msg []byte // the whole signed content, for Ed25519 keys
}

// maxRetainedSignatures bounds the copy of the signature header a pooled
// scratch keeps. Legitimate headers are a few hundred bytes.
const maxRetainedSignatures = 4 << 10

// NewVerifier returns a Verifier that accepts a message signed by any of the
// given keys. Each is a whsec_ HMAC secret (the prefix may be omitted, as
// Svix allows), a whpk_ Ed25519 public key, or a whsk_ Ed25519 private key
// (whose public half is used). Pass the old and the new secret while a
// rotation is under way. Malformed keys are refused with ErrInvalidSecret.
func NewVerifier(secrets ...string) (*Verifier, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: a verifier needs at least one secret", ErrInvalidSecret)
	}
	ring := &keyring{}
	for i, secret := range secrets {
		k, err := parseKey(secret)
		if err != nil {
			return nil, fmt.Errorf("secret %d of %d: %w", i+1, len(secrets), err)
		}
		if k.mac != nil {
			ring.macs = append(ring.macs, k.mac)
		} else {
			ring.publics = append(ring.publics, k.public)
		}
	}
	return &Verifier{ring: ring, tolerance: DefaultTolerance}, nil
}

// WithTolerance returns a Verifier with the same keys that accepts timestamps
// up to d away from the clock in either direction. A d of zero or less means
// DefaultTolerance. Widen it only for receivers whose clocks cannot be
// trusted: the tolerance is the window in which a captured request can be
// replayed.
func (v *Verifier) WithTolerance(d time.Duration) *Verifier {
	if d <= 0 {
		d = DefaultTolerance
	}
	return &Verifier{ring: v.ring, tolerance: d}
}

// Verify checks that header carries a valid signature of body, made within
// the tolerance of the current time. It returns nil if so, and otherwise an
// error that wraps one of ErrMissingHeaders, ErrInvalidTimestamp,
// ErrMessageTooOld, ErrMessageTooNew or ErrInvalidSignature.
//
// body must be the request body exactly as received: parsing and
// re-serialising JSON changes bytes and breaks the signature.
//
// The headers read are webhook-id, webhook-timestamp and webhook-signature;
// if none of them is present, svix-id, svix-timestamp and svix-signature.
// The signature header is a space-separated list of "version,signature"
// entries: the message is valid if any v1 (HMAC-SHA256) or v1a (Ed25519)
// entry matches any of the verifier's keys. Entries of other versions are
// skipped, so senders can add new schemes without breaking receivers. A
// header with more than 32 entries is refused unread.
//
// After a successful Verify, use the message id (webhook-id) to drop
// duplicates: senders deliver at least once.
func (v *Verifier) Verify(body []byte, header http.Header) error {
	return v.VerifyAt(time.Now(), body, header)
}

// VerifyAt is Verify with the clock read as now. Tests and tools that check
// recorded requests use it to fix the time.
func (v *Verifier) VerifyAt(now time.Time, body []byte, header http.Header) error {
	id, timestamp, signatures, err := signatureHeaders(header)
	if err != nil {
		return err
	}
	ts, err := parseTimestamp(timestamp)
	if err != nil {
		return err
	}
	// Checking the clock before the signature is safe: it tells a forger
	// nothing about the key, and it skips the hashing for stale replays.
	age := now.Sub(time.Unix(ts, 0))
	if age > v.tolerance {
		return fmt.Errorf("%w: sent %s ago, tolerance %s", ErrMessageTooOld, age.Truncate(time.Second), v.tolerance)
	}
	if age < -v.tolerance {
		return fmt.Errorf("%w: sent %s ahead of this clock, tolerance %s", ErrMessageTooNew, (-age).Truncate(time.Second), v.tolerance)
	}
	return v.ring.verify(id, ts, body, signatures)
}

// signatureHeaders returns the id, timestamp and signature header values, from
// the webhook-* set if it is complete, else from the svix-* set.
func signatureHeaders(h http.Header) (id, timestamp, signatures string, err error) {
	id, timestamp, signatures = first(h, canonicalID), first(h, canonicalTimestamp), first(h, canonicalSignature)
	if id != "" && timestamp != "" && signatures != "" {
		return id, timestamp, signatures, nil
	}
	names := [3]string{HeaderID, HeaderTimestamp, HeaderSignature}
	if id == "" && timestamp == "" && signatures == "" {
		id, timestamp, signatures = first(h, canonicalSvixID), first(h, canonicalSvixTimestamp), first(h, canonicalSvixSignature)
		if id != "" && timestamp != "" && signatures != "" {
			return id, timestamp, signatures, nil
		}
		if id == "" && timestamp == "" && signatures == "" {
			return "", "", "", fmt.Errorf("%w: none of %s, %s, %s (or their svix-* aliases) is set",
				ErrMissingHeaders, HeaderID, HeaderTimestamp, HeaderSignature)
		}
		// A partial svix-* set: name what the sender left out.
		names = [3]string{SvixHeaderID, SvixHeaderTimestamp, SvixHeaderSignature}
	}
	var missing []string
	for i, value := range [3]string{id, timestamp, signatures} {
		if value == "" {
			missing = append(missing, names[i])
		}
	}
	return "", "", "", fmt.Errorf("%w: %s not set", ErrMissingHeaders, strings.Join(missing, ", "))
}

// first returns the first value of the header with the canonical name key,
// as http.Header.Get does, without canonicalising the name again.
func first(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// parseTimestamp parses the timestamp header: unix seconds in canonical
// decimal, digits only and no leading zero. Holding to one spelling keeps the
// digits that were signed and the digits that are verified the same.
func parseTimestamp(s string) (int64, error) {
	canonical := s != "" && (s[0] != '0' || len(s) == 1)
	for i := 0; canonical && i < len(s); i++ {
		canonical = '0' <= s[i] && s[i] <= '9'
	}
	if !canonical {
		return 0, fmt.Errorf("%w: %.40q is not a unix time in whole seconds", ErrInvalidTimestamp, s)
	}
	ts, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %.40q is out of range", ErrInvalidTimestamp, s)
	}
	return ts, nil
}

// verify checks the signature header against the keys.
func (r *keyring) verify(id string, ts int64, body []byte, header string) error {
	sc, _ := r.scratch.Get().(*verifyScratch)
	if sc == nil {
		sc = new(verifyScratch)
	}
	defer r.putScratch(sc)
	sc.sig = append(sc.sig[:0], header...)

	var total, hmacs, ed25519s int
	for version := range signatureEntries(sc.sig) {
		total++
		switch string(version) {
		case versionHMAC:
			hmacs++
		case versionEd25519:
			ed25519s++
		}
	}
	if total > maxSignatures {
		return fmt.Errorf("%w: %d signatures in the header, at most %d are read", ErrInvalidSignature, total, maxSignatures)
	}
	if hmacs+ed25519s == 0 {
		return fmt.Errorf("%w: the header holds no %s or %s signature", ErrInvalidSignature, versionHMAC, versionEd25519)
	}

	if hmacs > 0 {
		for _, k := range r.macs {
			sum := k.sum(id, ts, body)
			var want [hmacSignatureB64]byte
			base64.StdEncoding.Encode(want[:], sum[:])
			for version, sig := range signatureEntries(sc.sig) {
				// hmac.Equal compares in time independent of where the
				// first difference lies, so a forger cannot learn the
				// valid signature one byte at a time.
				if string(version) == versionHMAC && hmac.Equal(sig, want[:]) {
					return nil
				}
			}
		}
	}

	if ed25519s > 0 && len(r.publics) > 0 {
		sc.msg = append(appendSignedPrefix(sc.msg[:0], id, ts), body...)
		for version, encoded := range signatureEntries(sc.sig) {
			if string(version) != versionEd25519 || len(encoded) != ed25519SignatureB64 {
				continue
			}
			// Decode wants room for the padding characters too, though
			// they decode to nothing.
			var sig [ed25519SignatureB64 / 4 * 3]byte
			n, err := base64.StdEncoding.Decode(sig[:], encoded)
			if err != nil || n != ed25519.SignatureSize {
				continue
			}
			for _, pub := range r.publics {
				if ed25519.Verify(pub, sc.msg, sig[:n]) {
					return nil
				}
			}
		}
	}

	return fmt.Errorf("%w: none of the %d %s/%s signatures matches this verifier's keys",
		ErrInvalidSignature, hmacs+ed25519s, versionHMAC, versionEd25519)
}

func (r *keyring) putScratch(sc *verifyScratch) {
	if cap(sc.sig) > maxRetainedSignatures {
		sc.sig = nil
	}
	if cap(sc.msg) > maxRetainedMessage {
		sc.msg = nil
	}
	r.scratch.Put(sc)
}

// signatureEntries yields the (version, signature) pairs of a signature
// header: space-separated entries of the form "version,signature". Empty
// entries (doubled spaces) and entries without a comma are skipped.
func signatureEntries(header []byte) iter.Seq2[[]byte, []byte] {
	return func(yield func(version, sig []byte) bool) {
		for rest := header; len(rest) > 0; {
			entry := rest
			if i := bytes.IndexByte(rest, ' '); i >= 0 {
				entry, rest = rest[:i], rest[i+1:]
			} else {
				rest = nil
			}
			version, sig, ok := bytes.Cut(entry, []byte{','})
			if !ok {
				continue
			}
			if !yield(version, sig) {
				return
			}
		}
	}
}
