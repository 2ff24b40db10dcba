package api

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hookbridge/hookbridge"
)

// This file holds the consumer portal's side of the API: the Svix call that
// hands out portal links (POST /api/v1/auth/app-portal-access/{app_id}),
// the token those links carry, and the authenticated in-process calls the
// dashboard and the portal make through this API.

// PortalPath is where the consumer portal is served (package ui); the links
// that app-portal-access returns point there.
const PortalPath = "/portal/"

// Portal token lifetimes, in seconds: Svix's range, up to
// hookbridge.MaxPortalLifetime. The default is the range's short end
// rather than Svix's seven days, because the token is a bearer credential
// in a URL; callers that want longer ask for it.
const (
	minPortalExpiry     = 3600
	maxPortalExpiry     = int64(hookbridge.MaxPortalLifetime / time.Second)
	defaultPortalExpiry = minPortalExpiry
)

// maxPortalClockSkew is how far in the future a token's issue time may
// lie: instances sharing the store (and the key) may disagree on the time
// by a little.
const maxPortalClockSkew = time.Minute

// Portal token format: portalTokenPrefix, then unpadded base64url of the
// JSON claims followed by their 32-byte HMAC-SHA256. The token carries no
// "." (Svix SDKs read a region after a dot in a bearer token) and needs no
// separator: the MAC is fixed-length.
const (
	portalTokenPrefix  = "hbpt_"
	portalTokenVersion = 1
	portalKeyBytes     = 32
	// settingPortalTokenKey names the setting that holds the HMAC key of
	// portal tokens (base64). Every instance sharing the store reads the
	// same key, so a token issued by one is accepted by all.
	settingPortalTokenKey = "portal_token_key"
)

// PortalAccess is what a portal token grants: the consumer portal of one
// application until Expires.
type PortalAccess struct {
	AppID string
	// Expires is when the token, and any portal session made from it, ends.
	Expires time.Time
	// FeatureFlags lets the portal show event types gated by these flags;
	// event types without a flag are shown to every token.
	FeatureFlags []string
	// ReadOnly portals show everything and change nothing.
	ReadOnly bool
	// Nonce makes every token unique, so that a session made from one can
	// be told apart from a session made from another, and one token can be
	// logged out (revoked by its nonce) while the others live on.
	Nonce string
	// IssuedAt is when the token was made, for expire-all: tokens issued
	// before such a call end when it says (PortalAccessEnded).
	IssuedAt time.Time
}

// sees reports whether the access may see an event type: one without a
// feature flag, or with one the access was granted, as the portal shows
// the catalogue.
func (a *PortalAccess) sees(et *hookbridge.EventType) bool {
	return et.FeatureFlag == "" || slices.Contains(a.FeatureFlags, et.FeatureFlag)
}

// portalClaims is the signed JSON inside a token.
type portalClaims struct {
	V        int      `json:"v"`
	App      string   `json:"app"`
	Exp      int64    `json:"exp"` // unix seconds
	Flags    []string `json:"ff,omitempty"`
	ReadOnly bool     `json:"ro,omitempty"`
	Nonce    string   `json:"n"`
	// Iat is the issue time, unix µs. Tokens made before expire-all
	// existed have none; they are refused, as their lifetime cannot be
	// checked (and all of them are older than MaxPortalLifetime anyway).
	Iat int64 `json:"iat,omitempty"`
}

// portalKey caches the token key once read from the store.
type portalKey struct {
	mu  sync.Mutex
	key []byte
}

// portalTokenKey returns the HMAC key of portal tokens, creating it in the
// store on first use. When several instances create one at once the first
// write wins and every instance reads that one back.
func (s *Server) portalTokenKey(ctx context.Context) ([]byte, error) {
	s.portalKey.mu.Lock()
	defer s.portalKey.mu.Unlock()
	if s.portalKey.key != nil {
		return s.portalKey.key, nil
	}
	v, err := s.store.Setting(ctx, settingPortalTokenKey)
	if hookbridge.IsNotFound(err) {
		if err := hookbridge.PutRandomSetting(ctx, s.store, settingPortalTokenKey, portalKeyBytes, true); err != nil {
			return nil, err
		}
		v, err = s.store.Setting(ctx, settingPortalTokenKey)
	}
	if err != nil {
		return nil, fmt.Errorf("read portal token key: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(key) < portalKeyBytes {
		return nil, fmt.Errorf("setting %s is not base64 of at least %d bytes", settingPortalTokenKey, portalKeyBytes)
	}
	s.portalKey.key = key
	return key, nil
}

// RotatePortalTokenKey replaces the stored key that signs portal tokens
// with a new random one: every portal link issued before no longer
// verifies once the servers read the new key, at their next start.
func RotatePortalTokenKey(ctx context.Context, store hookbridge.SettingStore) error {
	return hookbridge.PutRandomSetting(ctx, store, settingPortalTokenKey, portalKeyBytes, false)
}

// issuePortalToken signs a token granting access, which must end within
// hookbridge.MaxPortalLifetime of its issue: VerifyPortalToken refuses
// any token that lives longer.
func (s *Server) issuePortalToken(ctx context.Context, access PortalAccess) (string, error) {
	if access.IssuedAt.IsZero() || access.Expires.Sub(access.IssuedAt) > hookbridge.MaxPortalLifetime {
		return "", fmt.Errorf("portal token: issued %v, expires %v: longer than %v", access.IssuedAt, access.Expires, hookbridge.MaxPortalLifetime)
	}
	key, err := s.portalTokenKey(ctx)
	if err != nil {
		return "", err
	}
	claims, err := json.Marshal(portalClaims{
		V:        portalTokenVersion,
		App:      access.AppID,
		Exp:      access.Expires.Unix(),
		Flags:    access.FeatureFlags,
		ReadOnly: access.ReadOnly,
		Nonce:    access.Nonce,
		Iat:      access.IssuedAt.UnixMicro(),
	})
	if err != nil {
		return "", fmt.Errorf("encode portal token: %w", err)
	}
	return portalTokenPrefix + base64.RawURLEncoding.EncodeToString(append(claims, portalMAC(key, claims)...)), nil
}

func portalMAC(key, claims []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(claims)
	return m.Sum(nil)
}

// VerifyPortalToken checks a portal token's signature, its lifetime and
// its expiry, and returns what it grants. A malformed, forged or expired
// token is EUNAUTHORIZED, and so is a token whose claims give it a longer
// life than hookbridge.MaxPortalLifetime from its issue time (or an issue
// time in the future, or none): no token is issued so, and a token signed
// with the key by anyone else must not outlast one issued here. It does
// not check that the application still exists.
func (s *Server) VerifyPortalToken(ctx context.Context, token string) (*PortalAccess, error) {
	invalid := hookbridge.Errorf(hookbridge.EUNAUTHORIZED, "the portal link is invalid; ask for a new one")
	rest, ok := strings.CutPrefix(token, portalTokenPrefix)
	if !ok || len(rest) > 4096 {
		return nil, invalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(raw) <= sha256.Size {
		return nil, invalid
	}
	key, err := s.portalTokenKey(ctx)
	if err != nil {
		return nil, err
	}
	claimsJSON, mac := raw[:len(raw)-sha256.Size], raw[len(raw)-sha256.Size:]
	if !hmac.Equal(mac, portalMAC(key, claimsJSON)) {
		return nil, invalid
	}
	var c portalClaims
	if err := json.Unmarshal(claimsJSON, &c); err != nil || c.V != portalTokenVersion || c.App == "" {
		return nil, invalid
	}
	expires, issued := time.Unix(c.Exp, 0).UTC(), time.UnixMicro(c.Iat).UTC()
	if c.Iat <= 0 || issued.After(s.now().Add(maxPortalClockSkew)) || expires.Sub(issued) > hookbridge.MaxPortalLifetime {
		return nil, invalid
	}
	if !s.now().Before(expires) {
		return nil, hookbridge.Errorf(hookbridge.EUNAUTHORIZED, "the portal link has expired; ask for a new one")
	}
	access := &PortalAccess{AppID: c.App, Expires: expires, FeatureFlags: c.Flags, ReadOnly: c.ReadOnly, Nonce: c.Nonce,
		IssuedAt: issued}
	end, err := s.store.PortalAccessExpiry(ctx, access.AppID, access.IssuedAt, access.Nonce)
	if err != nil {
		return nil, err
	}
	switch {
	case end.Revoked:
		return nil, errPortalLoggedOut
	case end.Ends.IsZero():
	case !s.now().Before(end.Ends):
		return nil, errPortalRevoked
	case end.Ends.Before(access.Expires):
		access.Expires = end.Ends
	}
	return access, nil
}

// errPortalRevoked answers a portal token or session that expire-all
// ended; errPortalLoggedOut one whose token was logged out.
var (
	errPortalRevoked   = hookbridge.Errorf(hookbridge.EUNAUTHORIZED, "the portal link was revoked; ask for a new one")
	errPortalLoggedOut = hookbridge.Errorf(hookbridge.EUNAUTHORIZED, "this token was logged out; ask for a new portal link")
)

// PortalAccessEnded says whether expire-all or a logout has ended the
// application's portal access issued at issuedAt with the token nonce (a
// portal session carries its token's issue time and nonce): sessions are
// checked on every request, so that revoking signs out the browsers
// already in the portal too. It is one store read.
func (s *Server) PortalAccessEnded(ctx context.Context, appID string, issuedAt time.Time, nonce string) (bool, error) {
	end, err := s.store.PortalAccessExpiry(ctx, appID, issuedAt, nonce)
	if err != nil {
		return false, err
	}
	return end.Revoked || (!end.Ends.IsZero() && !s.now().Before(end.Ends)), nil
}

// handleLogout is Svix's POST /api/v1/auth/logout: it ends the
// application's key (a portal token) it is called with, at once and for
// good, and with it the portal sessions opened with that token; the
// application's other tokens live on. A read-only token may log itself
// out. The admin key is not a session: as the reference says, logging out
// any other token than an application's fails, here with 400.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	access := appAccess(r)
	if access == nil || access.Nonce == "" {
		return hookbridge.Errorf(hookbridge.EBADREQUEST,
			"only an application's token (from app-portal-access) can be logged out; the admin key is not a session and stays valid")
	}
	// access.Expires is when the token ends anyway: its own expiry, or
	// expire-all's earlier end, whose record keeps refusing it from then
	// on. Until then the revocation is needed.
	if err := s.store.RevokePortalToken(r.Context(), access.AppID, access.Nonce, access.Expires); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// maxExpireAllGrace is the longest expire-all lets old portal tokens live on.
const maxExpireAllGrace = int64(hookbridge.MaxPortalLifetime / time.Second)

// applicationTokenExpireIn is Svix's ApplicationTokenExpireIn. Its other
// fields (sessionIds) are ignored like any unknown field: every token of
// the application is expired.
type applicationTokenExpireIn struct {
	Expiry *int64 `json:"expiry"`
}

// handleExpireAll is Svix's POST /api/v1/auth/app/{app_id}/expire-all: the
// application's portal tokens issued so far, and the portal sessions made
// from them, stop working after expiry seconds (default 0: at once).
func (s *Server) handleExpireAll(w http.ResponseWriter, r *http.Request) error {
	var in applicationTokenExpireIn
	if err := s.decodeBody(r, &in, true); err != nil {
		return err
	}
	var expiry int64
	if in.Expiry != nil {
		if expiry = *in.Expiry; expiry < 0 || expiry > maxExpireAllGrace {
			var fe fieldErrors
			fe.body(fmt.Sprintf("must be from 0 to %d (7 days) seconds", maxExpireAllGrace), "expiry")
			return fe.err()
		}
	}
	app, err := s.application(r)
	if err != nil {
		return err
	}
	now := s.now()
	if err := s.store.ExpirePortalAccess(r.Context(), app.ID, now, now.Add(time.Duration(expiry)*time.Second)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// appPortalAccessIn is Svix's AppPortalAccessIn. expiry (seconds) and
// readOnly are in newer Svix servers and SDKs; other newer fields
// (capabilities, sessionId) are ignored like any unknown field.
type appPortalAccessIn struct {
	Application  *applicationIn `json:"application"`
	Expiry       *int64         `json:"expiry"`
	FeatureFlags []string       `json:"featureFlags"`
	ReadOnly     bool           `json:"readOnly"`
}

// appPortalAccessOut is Svix's AppPortalAccessOut.
type appPortalAccessOut struct {
	Token string `json:"token"`
	URL   string `json:"url"`
}

// handleAppPortalAccess issues a portal token for one application and the
// link that opens the portal with it. With an application in the body, a
// missing application is created first, as a message does.
func (s *Server) handleAppPortalAccess(w http.ResponseWriter, r *http.Request) error {
	var in appPortalAccessIn
	if err := s.decodeBody(r, &in, true); err != nil {
		return err
	}
	var fe fieldErrors
	expiry := int64(defaultPortalExpiry)
	if in.Expiry != nil {
		if expiry = *in.Expiry; expiry < minPortalExpiry || expiry > maxPortalExpiry {
			fe.body(fmt.Sprintf("must be from %d (1 hour) to %d (7 days) seconds", minPortalExpiry, maxPortalExpiry), "expiry")
		}
	}
	var flags []string
	if len(in.FeatureFlags) > 0 {
		flags = normalizeSet(in.FeatureFlags, maxNameLen, 0, &fe, "featureFlags")
	}
	if in.Application != nil {
		in.Application.validate(&fe, "application")
	}
	if err := fe.err(); err != nil {
		return err
	}

	ctx := r.Context()
	app, err := s.application(r)
	if hookbridge.IsNotFound(err) && in.Application != nil {
		uid := r.PathValue("app_id")
		if in.Application.UID == nil && checkUID(uid, hookbridge.PrefixApplication) != "" {
			return err
		}
		app, _, err = s.createApplication(ctx, in.Application, uid, true)
	}
	if err != nil {
		return err
	}

	var nonce [12]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return fmt.Errorf("portal token nonce: %w", err)
	}
	now := s.now() // one time, so that Expires - IssuedAt is the expiry asked for, or less
	token, err := s.issuePortalToken(ctx, PortalAccess{
		IssuedAt:     now,
		AppID:        app.ID,
		Expires:      now.Add(time.Duration(expiry) * time.Second).Truncate(time.Second),
		FeatureFlags: flags,
		ReadOnly:     in.ReadOnly,
		Nonce:        base64.RawURLEncoding.EncodeToString(nonce[:]),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, appPortalAccessOut{
		Token: token,
		URL:   s.baseURL(r) + PortalPath + "?token=" + url.QueryEscape(token),
	})
	return nil
}

// baseURL is where browsers reach this server: Config.PublicURL, or else
// what the request was addressed to. The request's Host is the caller's
// own (an admin), so it cannot steer another user's link.
func (s *Server) baseURL(r *http.Request) string {
	if s.publicURL != "" {
		return s.publicURL
	}
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// internalCall marks the context of a request made in-process by
// ServeAuthenticated. The key's type is unexported, so nothing outside this
// package can set it, and nothing from the network carries it.
type internalCall struct{}

// ServeAuthenticated serves r as a call whose caller this process has
// already authenticated: the dashboard's signed-in operator, or a portal
// session acting on its one application. It skips the bearer-token check
// and nothing else; in particular, scoping each call to what its caller
// may touch is the caller's job (the portal only ever names its own
// application in the path, and the API never reaches one application's
// entities through another's path).
//
// This lets the dashboard and the portal change things through the same
// handlers, validation and error reporting as the API, and through the
// same Wake calls, instead of a second implementation of each rule.
func (s *Server) ServeAuthenticated(w http.ResponseWriter, r *http.Request) {
	s.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), internalCall{}, true)))
}

// actorKey is the context key of the user a ServeAuthenticated call acts
// for (WithActor).
type actorKey struct{}

// WithActor names, in a ServeAuthenticated call's context, the person the
// call acts for (the dashboard's signed-in user), so that changes the API
// audits record them rather than "admin". It is read from in-process calls
// only: a request from the network is the admin key's.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// actorOf returns who a change is attributed to: the actor an in-process
// caller named, the name of the API key the request was made with, or
// adminActor.
func actorOf(r *http.Request) string {
	if a, _ := r.Context().Value(actorKey{}).(string); a != "" && isInternalCall(r) {
		return a
	}
	if k := requestAPIKey(r); k != nil {
		return k.Name
	}
	return adminActor
}

// isInternalCall reports whether r came through ServeAuthenticated.
func isInternalCall(r *http.Request) bool {
	v, _ := r.Context().Value(internalCall{}).(bool)
	return v
}
