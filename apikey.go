package hookbridge

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"time"
)

// PrefixAPIKey is the prefix of an APIKey's id.
const PrefixAPIKey = "key"

// API key scopes: what a key may do (see docs/security.md). An
// application's scope is ScopeAppPrefix + the application's id.
const (
	ScopeAdmin     = "admin"     // everything, as the server-wide admin key
	ScopeReadOnly  = "read-only" // every read, no write
	ScopeIngest    = "ingest"    // create messages, in any application
	ScopeInbound   = "inbound"   // inbound sources: /api/v1/source…
	ScopeAppPrefix = "app:"      // one application: its portal token's rights, and sending messages
)

// APIKeyTouchEvery is how often, at most, a key's LastUsedAt is updated.
const APIKeyTouchEvery = time.Minute

// APIKey is a named, scoped key to the API. Only the hash of its secret
// is kept; the key itself is shown once, when it is made or rotated.
type APIKey struct {
	ID    string
	Name  string
	Scope string // ScopeAdmin, ScopeReadOnly, ScopeIngest, ScopeInbound or ScopeAppPrefix+app id
	// Hash is HashKey of the whole key (FormatAPIKey's result).
	Hash       string
	CreatedAt  time.Time
	UpdatedAt  time.Time // made, renamed or rotated
	LastUsedAt time.Time // zero: never used
}

// ScopeApp returns the application id of an application's scope, and
// whether scope is one.
func ScopeApp(scope string) (string, bool) {
	id, ok := strings.CutPrefix(scope, ScopeAppPrefix)
	return id, ok && id != ""
}

// ValidScope reports whether scope is one of the scopes a key may have
// (an application's scope is not checked against the applications).
func ValidScope(scope string) bool {
	switch scope {
	case ScopeAdmin, ScopeReadOnly, ScopeIngest, ScopeInbound:
		return true
	}
	_, ok := ScopeApp(scope)
	return ok
}

// apiKeyPrefix starts every key, the admin key's included.
const apiKeyPrefix = "hbk_"

// NewAPIKeySecret returns the key of the API key with id:
// "hbk_" + id + "_" + 43 url-safe base64 characters (256 bits). The id
// lets the server find the key's hash in one read; the rest is secret.
func NewAPIKeySecret(id string) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("hookbridge: crypto/rand failed: " + err.Error())
	}
	return apiKeyPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// APIKeyID returns the id of the API key key names, and whether key has
// the shape of one (NewAPIKeySecret's). It says nothing of its validity.
func APIKeyID(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, apiKeyPrefix+PrefixAPIKey+"_")
	if !ok {
		return "", false
	}
	ulid, secret, ok := strings.Cut(rest, "_")
	if !ok || len(ulid) != 26 || secret == "" {
		return "", false
	}
	return PrefixAPIKey + "_" + ulid, true
}

// APIKeyStore keeps API keys. Keys list oldest first by default.
type APIKeyStore interface {
	// CreateAPIKey stores k, filling in its ID (if unset) and times.
	CreateAPIKey(ctx context.Context, k *APIKey) error
	// GetAPIKey finds a key by id.
	GetAPIKey(ctx context.Context, id string) (*APIKey, error)
	ListAPIKeys(ctx context.Context, opt ListOptions) (Page[APIKey], error)
	// RotateAPIKey replaces the key's hash and returns the key.
	RotateAPIKey(ctx context.Context, id, hash string) (*APIKey, error)
	// DeleteAPIKey revokes the key, for good.
	DeleteAPIKey(ctx context.Context, id string) error
	// TouchAPIKey sets the key's LastUsedAt to at, unless it is later than
	// at minus APIKeyTouchEvery already; a missing key is no error.
	TouchAPIKey(ctx context.Context, id string, at time.Time) error
}
