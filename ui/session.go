package ui

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hookbridge/hookbridge"
)

// Session kinds: who a session cookie speaks for.
const (
	kindAdmin  = "admin"  // an operator on the dashboard: with the admin key, or through the identity provider
	kindPortal = "portal" // a consumer, in the portal of one application
	// kindOIDCFlow is no session: it carries a sign-in through the
	// identity provider from its start to the callback (oidc.go).
	kindOIDCFlow = "oidc-flow"
)

// Cookie names and lifetimes. Each surface has its own cookie on its own
// path, so the operator's session is never sent to the portal and the other
// way round.
const (
	adminCookie     = "hookbridge_admin"
	portalCookie    = "hookbridge_portal"
	adminSessionTTL = 12 * time.Hour
	// maxCookieLen bounds what is decoded from a cookie.
	maxCookieLen = 4096
)

// settingUIKey names the setting that holds the key signing session cookies
// and CSRF tokens (base64 of uiKeyBytes). Every instance sharing the store
// reads the same key, so a session started on one is valid on all.
const (
	settingUIKey = "ui_session_key"
	uiKeyBytes   = 32
)

// maxSessionLifetime is the longest a session of each kind lasts from
// when it was made, as each is issued: decode refuses a cookie whose own
// times say it lives longer, so that even a cookie signed with the real
// key (a key taken from a copy of the database of an older version, say)
// cannot grant more than a sign-in does.
var maxSessionLifetime = map[string]time.Duration{
	kindAdmin:    adminSessionTTL,
	kindPortal:   hookbridge.MaxPortalLifetime, // as the portal token it is made from
	kindOIDCFlow: oidcFlowTTL,
}

// maxClockSkew is how far in the future a session's issue time may lie:
// instances sharing the store (and the key) may disagree on the time by a
// little.
const maxClockSkew = time.Minute

// session is what a signed session cookie says. Sessions are stateless: the
// cookie carries them whole, signed, and nothing is kept on the server.
type session struct {
	Kind    string `json:"k"`
	Issued  int64  `json:"is"`  // unix seconds: when the session was made
	Expires int64  `json:"exp"` // unix seconds; at most maxSessionLifetime after Issued
	// Nonce is random per session. CSRF tokens are derived from it, so a
	// token is valid for its own session only.
	Nonce string `json:"n"`
	// AdminKey is a fingerprint of the admin key's hash (dashboard
	// sessions of the admin key): when the admin key changes, every session
	// made with the old one ends.
	AdminKey string `json:"ak,omitempty"`
	// Dashboard sessions made through the identity provider: IdP is a
	// fingerprint of the provider's settings (oidcClient.fingerprint), so
	// that changing them ends the sessions made before; Role is RoleAdmin
	// or RoleReadOnly; Subject and Email name the user.
	IdP     string `json:"idp,omitempty"`
	Role    string `json:"r,omitempty"`
	Subject string `json:"sub,omitempty"`
	Email   string `json:"em,omitempty"`
	// A sign-in under way (kindOIDCFlow): the state sent to the provider,
	// the PKCE verifier and the page to return to. Nonce is then the
	// nonce the ID token must carry.
	State    string `json:"st,omitempty"`
	Verifier string `json:"pv,omitempty"`
	Next     string `json:"nx,omitempty"`
	// Portal sessions: the application and what the portal token granted.
	AppID    string   `json:"app,omitempty"`
	Flags    []string `json:"ff,omitempty"`
	ReadOnly bool     `json:"ro,omitempty"`
	// Iat is when the portal token was issued (unix µs), for expire-all;
	// the session ends at most MaxPortalLifetime after it, as the token does.
	Iat int64 `json:"iat,omitempty"`
	// TokenNonce is the portal token's nonce, so that the session ends when
	// its token is logged out (POST /api/v1/auth/logout). A session made
	// before sessions carried it ends with its token's expiry or expire-all.
	TokenNonce string `json:"tn,omitempty"`
}

// keys are the HMAC keys derived from the stored UI key, one per purpose,
// so that no value signed for one purpose verifies for another.
type keys struct {
	session []byte
	csrf    []byte
}

// loadKeys reads the UI key from the store, creating it on first start.
// When several instances create one at once the first write wins and all
// read that one back.
func loadKeys(ctx context.Context, store hookbridge.SettingStore) (keys, error) {
	v, err := store.Setting(ctx, settingUIKey)
	if hookbridge.IsNotFound(err) {
		if err := hookbridge.PutRandomSetting(ctx, store, settingUIKey, uiKeyBytes, true); err != nil {
			return keys{}, err
		}
		v, err = store.Setting(ctx, settingUIKey)
	}
	if err != nil {
		return keys{}, fmt.Errorf("read ui key: %w", err)
	}
	root, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(root) < uiKeyBytes {
		return keys{}, fmt.Errorf("setting %s is not base64 of at least %d bytes", settingUIKey, uiKeyBytes)
	}
	return keys{session: mac(root, []byte("session")), csrf: mac(root, []byte("csrf"))}, nil
}

// RotateSessionKey replaces the stored key that signs dashboard sessions,
// CSRF tokens and portal sessions with a new random one: every session
// signed with the old key ends (its cookie no longer verifies) once the
// servers read the new key, at their next start.
func RotateSessionKey(ctx context.Context, store hookbridge.SettingStore) error {
	return hookbridge.PutRandomSetting(ctx, store, settingUIKey, uiKeyBytes, false)
}

func mac(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// newNonce returns 16 random bytes, base64url.
func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// adminKeyFingerprint identifies the admin key a session was made with,
// without putting anything that helps guess the key into the cookie.
func (k keys) adminKeyFingerprint(adminKeyHash string) string {
	return k.fingerprint("admin-key\x00" + adminKeyHash)
}

// fingerprint is a short MAC of what a session was made under.
func (k keys) fingerprint(s string) string {
	return base64.RawURLEncoding.EncodeToString(mac(k.session, []byte(s))[:12])
}

// encode signs s into a cookie value: base64url(JSON) "." base64url(MAC).
func (k keys) encode(s *session) (string, error) {
	payload, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("encode session: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(mac(k.session, payload)), nil
}

// decode verifies a cookie value and returns its session if it is of the
// wanted kind, not expired at now, and no longer lived than its kind may
// be (see maxSessionLifetime).
func (k keys) decode(value, kind string, now time.Time) (*session, bool) {
	if len(value) > maxCookieLen {
		return nil, false
	}
	p, m, ok := strings.Cut(value, ".")
	if !ok {
		return nil, false
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	sig, err2 := base64.RawURLEncoding.DecodeString(m)
	if err1 != nil || err2 != nil || !hmac.Equal(sig, mac(k.session, payload)) {
		return nil, false
	}
	var s session
	if json.Unmarshal(payload, &s) != nil || s.Kind != kind || s.Nonce == "" || now.Unix() >= s.Expires || !s.lifetimeAllowed(now) {
		return nil, false
	}
	return &s, true
}

// lifetimeAllowed reports whether the session's times keep within its
// kind's lifetime: made (not in the future), and expiring at most
// maxSessionLifetime later; a portal session also within
// MaxPortalLifetime of its token's issue. A session without an issue time
// (made before sessions carried one) is refused: it was made at most a
// lifetime ago, which cannot be told.
func (s *session) lifetimeAllowed(now time.Time) bool {
	limit, ok := maxSessionLifetime[s.Kind]
	if !ok || s.Issued <= 0 || s.Issued > now.Add(maxClockSkew).Unix() || s.Expires-s.Issued > int64(limit/time.Second) {
		return false
	}
	if s.Kind == kindPortal {
		if s.Iat <= 0 || time.UnixMicro(s.Iat).After(now.Add(maxClockSkew)) ||
			time.Unix(s.Expires, 0).Sub(time.UnixMicro(s.Iat)) > hookbridge.MaxPortalLifetime {
			return false
		}
	}
	return true
}

// csrfToken is the token every form of the session carries: the MAC of
// the session's kind and nonce. It needs no server-side state and is
// worthless outside its session.
func (k keys) csrfToken(s *session) string {
	return base64.RawURLEncoding.EncodeToString(mac(k.csrf, []byte(s.Kind+"\x00"+s.Nonce)))
}

// validCSRF reports, in constant time, whether token is the session's.
func (k keys) validCSRF(s *session, token string) bool {
	return hmac.Equal([]byte(token), []byte(k.csrfToken(s)))
}

// isHTTPS reports whether the browser reached us over TLS, directly or
// through a proxy that says so. It only decides the Secure attribute: a
// wrong answer makes the browser drop the cookie, not leak it.
func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}
