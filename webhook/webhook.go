package webhook

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"strconv"
	"time"
)

// Header names of the Standard Webhooks scheme, spelled as the specification
// spells them. http.Header's Get and Set canonicalise them.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Header names Svix uses for the same three values. A Verifier reads them when
// the webhook-* headers are absent, so receivers written for Svix keep working.
const (
	SvixHeaderID        = "svix-id"
	SvixHeaderTimestamp = "svix-timestamp"
	SvixHeaderSignature = "svix-signature"
)

// Canonical (http.CanonicalHeaderKey) forms of the header names. The package
// indexes http.Header with them directly: Get and Set would canonicalise the
// lower-case spelling again on every call, and that allocates.
const (
	canonicalID            = "Webhook-Id"
	canonicalTimestamp     = "Webhook-Timestamp"
	canonicalSignature     = "Webhook-Signature"
	canonicalSvixID        = "Svix-Id"
	canonicalSvixTimestamp = "Svix-Timestamp"
	canonicalSvixSignature = "Svix-Signature"
)

// Key and secret prefixes. They make a key's kind visible wherever it is
// pasted, and let one string carry both the key and its scheme.
const (
	SecretPrefix     = "whsec_" // HMAC-SHA256 shared secret
	PublicKeyPrefix  = "whpk_"  // Ed25519 public key, for verifying
	PrivateKeyPrefix = "whsk_"  // Ed25519 private key, for signing
)

// Bounds on the decoded length of a whsec_ secret, from the specification
// ("at least 24 bytes, 512 bits maximum").
const (
	MinSecretBytes = 24
	MaxSecretBytes = 64
)

// DefaultTolerance is how far a message's timestamp may lie from the
// verifier's clock, in either direction, before the message is refused. It
// bounds the window in which a captured request can be replayed.
const DefaultTolerance = 5 * time.Minute

// maxSignatures bounds the entries a Verifier reads from one signature
// header. Each v1a entry costs an Ed25519 verification, so an unbounded list
// would let anyone who can reach the receiver burn its CPU. A sender rotating
// keys sends one entry per live key; 32 leaves ample room.
const maxSignatures = 32

// Signature version identifiers, the part before the comma in each entry of
// the signature header.
const (
	versionHMAC    = "v1"  // HMAC-SHA256 with a whsec_ secret
	versionEd25519 = "v1a" // Ed25519 with a whsk_/whpk_ key pair
)

// Lengths of the padded standard base64 of each kind of signature, and of a
// whole header entry: version, comma, signature.
const (
	hmacSignatureB64    = 4 * ((sha256.Size + 2) / 3)           // 44
	ed25519SignatureB64 = 4 * ((ed25519.SignatureSize + 2) / 3) // 88
	hmacEntryLen        = len(versionHMAC) + 1 + hmacSignatureB64
	ed25519EntryLen     = len(versionEd25519) + 1 + ed25519SignatureB64
)

// Errors returned by Verify and by the constructors. Returned errors wrap one
// of them with details; test with errors.Is.
var (
	// ErrMissingHeaders: webhook-id, webhook-timestamp or webhook-signature
	// (and their svix-* aliases) is absent or empty.
	ErrMissingHeaders = errors.New("webhook: missing signature headers")
	// ErrInvalidTimestamp: the timestamp header is not a unix time in
	// seconds.
	ErrInvalidTimestamp = errors.New("webhook: invalid timestamp header")
	// ErrMessageTooOld: the timestamp is further in the past than the
	// tolerance allows; the request may be a replay.
	ErrMessageTooOld = errors.New("webhook: message timestamp too old")
	// ErrMessageTooNew: the timestamp is further in the future than the
	// tolerance allows.
	ErrMessageTooNew = errors.New("webhook: message timestamp too new")
	// ErrInvalidSignature: no entry of the signature header matches any of
	// the verifier's keys, or the header holds no usable entry at all.
	ErrInvalidSignature = errors.New("webhook: no matching signature")
	// ErrInvalidSecret: a secret or key string is malformed, of the wrong
	// length, or of the wrong kind for its use.
	ErrInvalidSecret = errors.New("webhook: invalid secret")
)

// appendSignedPrefix appends "id.timestamp." to dst: the part of the signed
// content that precedes the body. Both sides format the timestamp from an
// int64; Verify accepts only the canonical decimal form, so the digits a
// verifier signs are the digits the sender put in the header.
func appendSignedPrefix(dst []byte, id string, ts int64) []byte {
	dst = append(dst, id...)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, ts, 10)
	return append(dst, '.')
}
