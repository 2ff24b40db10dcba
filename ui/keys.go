package ui

import (
	"net/http"
	"strings"

	"github.com/hookbridge/hookbridge"
)

// The API keys (hookbridge.APIKey): listed from the store, made, rotated
// and revoked through the API's /api/v1/api-key routes, so that what the
// page allows and refuses is what the API does, and each change is
// logged as the signed-in user's. A key's secret is shown once, on the
// page that answers its creation or rotation, and never again.

// keyScopes are the scopes the form offers, with what each allows; "app"
// takes the application from the form's app field.
var keyScopes = []struct{ Value, Label string }{
	{hookbridge.ScopeAdmin, "admin: everything"},
	{hookbridge.ScopeReadOnly, "read-only: every read, no write"},
	{hookbridge.ScopeIngest, "ingest: create messages, any application"},
	{hookbridge.ScopeInbound, "inbound: the inbound sources"},
	{"app", "one application: its portal's rights, and sending its messages"},
}

// keysPage lists the keys, with the form that makes one.
type keysPage struct {
	Keys   []hookbridge.APIKey
	Scopes []struct{ Value, Label string }
	// New is the key just made or rotated, with its secret: shown once.
	New *keyShown
}

type keyShown struct {
	ID, Name, Secret string
	Rotated          bool
}

func (h *Handler) dashKeys(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	return h.renderKeys(w, r, v, http.StatusOK, nil)
}

func (h *Handler) renderKeys(w http.ResponseWriter, r *http.Request, v *view, status int, shown *keyShown) error {
	p := keysPage{Scopes: keyScopes, New: shown}
	keys, err := h.store.ListAPIKeys(r.Context(), hookbridge.ListOptions{Limit: hookbridge.MaxListLimit, Order: hookbridge.OrderAscending})
	if err != nil {
		return err
	}
	p.Keys = keys.Data
	v.Title, v.Nav, v.Data = "API keys", "keys", p
	h.render(w, r, status, "keys", v)
	return nil
}

// keyOut is what the page reads of the API's ApiKeyCreatedOut.
type keyOut struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Key  string `json:"key"`
}

func (h *Handler) dashCreateKey(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	f := r.PostForm
	v.Form = f
	scope := f.Get("scope")
	if scope == "app" {
		scope = hookbridge.ScopeAppPrefix + strings.TrimSpace(f.Get("app"))
	}
	var out keyOut
	err := h.callAPI(r, http.MethodPost, apiPath("api-key"), map[string]string{"name": f.Get("name"), "scope": scope}, &out)
	if formFailed(err, v) {
		return h.renderKeys(w, r, v, http.StatusUnprocessableEntity, nil)
	}
	if err != nil {
		return err
	}
	v.Form = nil // the form starts afresh
	v.Notice = "API key created. Copy it now: it is not shown again."
	return h.renderKeys(w, r, v, http.StatusOK, &keyShown{ID: out.ID, Name: out.Name, Secret: out.Key})
}

func (h *Handler) dashRotateKey(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	id, err := pathRef(r, "key")
	if err != nil {
		return err
	}
	var out keyOut
	if err := h.callAPI(r, http.MethodPost, apiPath("api-key", id, "rotate"), nil, &out); err != nil {
		return err
	}
	v.Notice = "API key rotated: the previous secret no longer works. Copy the new one now: it is not shown again."
	return h.renderKeys(w, r, v, http.StatusOK, &keyShown{ID: out.ID, Name: out.Name, Secret: out.Key, Rotated: true})
}

func (h *Handler) dashRevokeKey(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	id, err := pathRef(r, "key")
	if err != nil {
		return err
	}
	if err := h.callAPI(r, http.MethodDelete, apiPath("api-key", id), nil, nil); err != nil {
		return err
	}
	redirect(w, r, "/ui/keys?done=key-revoked")
	return nil
}
