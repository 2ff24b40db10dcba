package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hookbridge/hookbridge"
)

// API keys: named, scoped keys that the admin makes, rotates and revokes
// (routes /api/v1/api-key), stored as hashes (hookbridge.APIKey). A key
// reads "hbk_" + its id + "_" + its secret, so that a request costs at
// most one store read (by id) and a constant-time hash comparison; the
// read is kept apiKeyTTL, which bounds how long a key revoked or rotated
// on another instance still works here.

// apiKeyTTL is how long a key read from the store is trusted.
const apiKeyTTL = 2 * time.Second

// apiKeyCache keeps the keys read recently, by id.
type apiKeyCache struct {
	mu   sync.Mutex
	keys map[string]cachedKey
}

type cachedKey struct {
	key     hookbridge.APIKey
	read    time.Time // when it was read from the store
	touched time.Time // the last use recorded in the store, as far as this instance knows
}

func (c *apiKeyCache) get(id string, now time.Time) (cachedKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.keys[id]
	if ok && now.Sub(k.read) >= apiKeyTTL {
		delete(c.keys, id)
		return cachedKey{}, false
	}
	return k, ok
}

func (c *apiKeyCache) put(k cachedKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil {
		c.keys = map[string]cachedKey{}
	}
	// Stale entries go when they are next looked up; the map never holds
	// more than the keys that exist.
	c.keys[k.key.ID] = k
}

// claimTouch reports whether the use of key id at now is to be recorded:
// the first call more than hookbridge.APIKeyTouchEvery after the last
// recorded use, which it then takes as recorded.
func (c *apiKeyCache) claimTouch(id string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.keys[id]
	if !ok || now.Sub(k.touched) <= hookbridge.APIKeyTouchEvery {
		return false
	}
	k.touched = now
	c.keys[id] = k
	return true
}

func (c *apiKeyCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.keys, id)
}

// verifyAPIKey returns the API key token is, or EUNAUTHORIZED. It records
// the key's use at most once per hookbridge.APIKeyTouchEvery.
func (s *Server) verifyAPIKey(ctx context.Context, token string) (*hookbridge.APIKey, error) {
	refused := hookbridge.Errorf(hookbridge.EUNAUTHORIZED, "incorrect authentication credentials")
	id, ok := hookbridge.APIKeyID(token)
	if !ok {
		return nil, refused
	}
	now := s.timeNow()
	c, ok := s.apiKeys.get(id, now)
	if !ok {
		k, err := s.store.GetAPIKey(ctx, id)
		if hookbridge.IsNotFound(err) {
			return nil, refused
		}
		if err != nil {
			return nil, err
		}
		c = cachedKey{key: *k, read: now, touched: k.LastUsedAt}
		s.apiKeys.put(c)
	}
	if !hookbridge.KeyMatches(token, c.key.Hash) {
		return nil, refused
	}
	if s.apiKeys.claimTouch(id, now) {
		// One small write a minute per key and instance (the first
		// request past the minute claims it; those racing with it do not
		// write); the store keeps one touch a minute of all instances'.
		if err := s.store.TouchAPIKey(ctx, id, now); err != nil {
			s.log.WarnContext(ctx, "recording an api key's use", "key", id, "err", err)
		}
	}
	k := c.key
	return &k, nil
}

// apiKeyCtx is the context key under which the API key a request was made
// with travels to the handler.
type apiKeyCtx struct{}

// requestAPIKey returns the API key the request was made with, or nil.
func requestAPIKey(r *http.Request) *hookbridge.APIKey {
	k, _ := r.Context().Value(apiKeyCtx{}).(*hookbridge.APIKey)
	return k
}

// authorizeKey decides what an API key may do, by its scope (see
// docs/security.md): admin everything; read-only every GET; ingest the
// routes that create messages; inbound the sources' routes; an
// application's scope what its portal token may do, and create its
// messages.
func (s *Server) authorizeKey(r *http.Request, k *hookbridge.APIKey, who routeAccess) error {
	if who == routeOwnKey {
		return nil
	}
	pattern := routeName(r)
	switch k.Scope {
	case hookbridge.ScopeAdmin:
		return nil
	case hookbridge.ScopeReadOnly:
		if err := readOnlyRefuses(r); err != nil {
			return err
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			return nil
		}
		return hookbridge.Errorf(hookbridge.EFORBIDDEN, "this key is read-only; %s needs a key that may write", pattern)
	case hookbridge.ScopeIngest:
		if who == routeSend {
			return nil
		}
		return hookbridge.Errorf(hookbridge.EFORBIDDEN, "this key may only create messages; %s needs another scope", pattern)
	case hookbridge.ScopeInbound:
		if who == routeSource {
			return nil
		}
		return hookbridge.Errorf(hookbridge.EFORBIDDEN, "this key may only manage inbound sources; %s needs another scope", pattern)
	}
	appID, ok := hookbridge.ScopeApp(k.Scope)
	if !ok || (who != routeApp && who != routeSend && who != routeAppTask) {
		return hookbridge.Errorf(hookbridge.EFORBIDDEN, "this key is limited to application %s; %s needs another scope", appID, pattern)
	}
	if who == routeAppTask {
		return nil // the handler keeps to the application's tasks
	}
	return s.pathNamesApp(r, appID)
}

// readOnlyRefuses refuses a read-only key (API key or portal token) the
// reading of a signing secret: whoever holds one can sign webhooks its
// receivers will trust, which is more than reading. Nil for other routes.
func readOnlyRefuses(r *http.Request) error {
	if strings.HasSuffix(r.Pattern, "/secret") && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		return hookbridge.Errorf(hookbridge.EFORBIDDEN,
			"this key is read-only, and a signing secret lets its holder sign webhooks; %s needs a key that may write", routeName(r))
	}
	return nil
}

// routeName is the route r was matched to, for error messages.
func routeName(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return r.Method + " " + r.URL.Path
}

// apiKeyIn is the body of POST /api/v1/api-key.
type apiKeyIn struct {
	Name  *string `json:"name"`
	Scope *string `json:"scope"`
}

// apiKeyOut is an API key as the API shows it: never its hash.
type apiKeyOut struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	Scope      string  `json:"scope"`
	CreatedAt  string  `json:"createdAt"`
	UpdatedAt  string  `json:"updatedAt"`
	LastUsedAt *string `json:"lastUsedAt"`
}

// apiKeyCreatedOut is a key just made or rotated, with the key itself,
// shown this once.
type apiKeyCreatedOut struct {
	apiKeyOut
	Key string `json:"key"`
}

func toAPIKeyOut(k *hookbridge.APIKey) apiKeyOut {
	return apiKeyOut{
		ID: k.ID, Name: k.Name, Scope: k.Scope,
		CreatedAt: formatTime(k.CreatedAt), UpdatedAt: formatTime(k.UpdatedAt),
		LastUsedAt: formatTimePtr(k.LastUsedAt),
	}
}

func (s *Server) handleCreateAPIKey(w http.ResponseWriter, r *http.Request) error {
	var in apiKeyIn
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	var fe fieldErrors
	switch {
	case in.Name == nil:
		fe.body("field required", "name")
	case checkText(*in.Name) != "":
		fe.body(checkText(*in.Name), "name")
	case strings.TrimSpace(*in.Name) == "":
		fe.body("must not be blank", "name")
	case len(*in.Name) > maxNameLen:
		fe.body(fmt.Sprintf("must be at most %d characters", maxNameLen), "name")
	}
	var scope string
	switch {
	case in.Scope == nil:
		fe.body("field required", "scope")
	case !hookbridge.ValidScope(*in.Scope):
		fe.body("must be admin, read-only, ingest, inbound or app:{app_id}", "scope")
	default:
		scope = *in.Scope
		if named, ok := hookbridge.ScopeApp(scope); ok {
			app, err := s.store.GetApplication(r.Context(), named)
			switch {
			case hookbridge.IsNotFound(err):
				fe.body(fmt.Sprintf("no application %q", named), "scope")
			case err != nil:
				return err
			default:
				scope = hookbridge.ScopeAppPrefix + app.ID // the id: a uid may change
			}
		}
	}
	if err := fe.err(); err != nil {
		return err
	}
	id := hookbridge.NewIDAt(hookbridge.PrefixAPIKey, s.timeNow())
	secret := hookbridge.NewAPIKeySecret(id)
	k := &hookbridge.APIKey{ID: id, Name: *in.Name, Scope: scope, Hash: hookbridge.HashKey(secret)}
	if err := s.store.CreateAPIKey(r.Context(), k); err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "api key created", "key", k.ID, "name", k.Name, "scope", k.Scope, "actor", actorOf(r))
	writeJSON(w, http.StatusCreated, apiKeyCreatedOut{apiKeyOut: toAPIKeyOut(k), Key: secret})
	return nil
}

func (s *Server) handleListAPIKeys(w http.ResponseWriter, r *http.Request) error {
	var fe fieldErrors
	q := listParams(r.URL.Query(), &fe, idIterator(hookbridge.PrefixAPIKey), true, hookbridge.OrderAscending)
	if err := fe.err(); err != nil {
		return err
	}
	page, err := s.store.ListAPIKeys(r.Context(), q.opt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, writePage(page, q, toAPIKeyOut, func(k *hookbridge.APIKey) string { return k.ID }, true))
	return nil
}

// apiKeyID is the path's key_id, or ENOTFOUND when it cannot be one.
func apiKeyID(r *http.Request) (string, error) {
	id := r.PathValue("key_id")
	if !hookbridge.HasPrefix(id, hookbridge.PrefixAPIKey) {
		return "", hookbridge.NotFound("api key")
	}
	return id, nil
}

func (s *Server) handleGetAPIKey(w http.ResponseWriter, r *http.Request) error {
	id, err := apiKeyID(r)
	if err != nil {
		return err
	}
	k, err := s.store.GetAPIKey(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIKeyOut(k))
	return nil
}

// handleRotateAPIKey gives the key a new secret: the old one stops working
// at once here, and within apiKeyTTL on other instances.
func (s *Server) handleRotateAPIKey(w http.ResponseWriter, r *http.Request) error {
	id, err := apiKeyID(r)
	if err != nil {
		return err
	}
	secret := hookbridge.NewAPIKeySecret(id)
	k, err := s.store.RotateAPIKey(r.Context(), id, hookbridge.HashKey(secret))
	if err != nil {
		return err
	}
	s.apiKeys.forget(id)
	s.log.InfoContext(r.Context(), "api key rotated", "key", k.ID, "name", k.Name, "actor", actorOf(r))
	writeJSON(w, http.StatusOK, apiKeyCreatedOut{apiKeyOut: toAPIKeyOut(k), Key: secret})
	return nil
}

// handleRevokeAPIKey deletes the key: it stops working at once here, and
// within apiKeyTTL on other instances.
func (s *Server) handleRevokeAPIKey(w http.ResponseWriter, r *http.Request) error {
	id, err := apiKeyID(r)
	if err != nil {
		return err
	}
	if err := s.store.DeleteAPIKey(r.Context(), id); err != nil {
		return err
	}
	s.apiKeys.forget(id)
	s.log.InfoContext(r.Context(), "api key revoked", "key", id, "actor", actorOf(r))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// isAPIKeyShaped reports whether token has the shape of an API key (not
// the admin key's, nor a portal token's).
func isAPIKeyShaped(token string) bool {
	_, ok := hookbridge.APIKeyID(token)
	return ok
}
