package api

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestEventTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	schemas := obj{"1": obj{"type": "object", "properties": obj{"paymentId": obj{"type": "string"}}}}

	created := e.do("POST", "/api/v1/event-type", obj{
		"name": "payment.captured", "description": "A payment was captured.", "schemas": schemas, "featureFlag": "beta",
	}).want(http.StatusCreated).object()
	if str(created, "name") != "payment.captured" || created["archived"] != false || created["deprecated"] != false ||
		str(created, "featureFlag") != "beta" || created["schemas"] == nil {
		t.Errorf("created = %v", created)
	}
	e.do("POST", "/api/v1/event-type", obj{"name": "payment.captured", "description": "again"}).want(http.StatusConflict)

	got := e.do("GET", "/api/v1/event-type/payment.captured", nil).want(http.StatusOK).object()
	if s, _ := got["schemas"].(map[string]any); s["1"] == nil {
		t.Errorf("GET schemas = %v", got["schemas"])
	}
	e.do("GET", "/api/v1/event-type/no.such", nil).want(http.StatusNotFound)

	// PATCH: absent stays, null clears.
	patched := e.do("PATCH", "/api/v1/event-type/payment.captured", obj{"deprecated": true, "featureFlag": nil}).
		want(http.StatusOK).object()
	if patched["deprecated"] != true || patched["featureFlag"] != nil || str(patched, "description") != "A payment was captured." || patched["schemas"] == nil {
		t.Errorf("PATCH = %v", patched)
	}
	patched = e.do("PATCH", "/api/v1/event-type/payment.captured", obj{"schemas": nil}).want(http.StatusOK).object()
	if patched["schemas"] != nil {
		t.Errorf("schemas after null = %v", patched["schemas"])
	}

	// PUT replaces, or creates (201).
	put := e.do("PUT", "/api/v1/event-type/payment.captured", obj{"description": "Captured."}).want(http.StatusOK).object()
	if put["deprecated"] != false || str(put, "description") != "Captured." {
		t.Errorf("PUT = %v", put)
	}
	e.do("PUT", "/api/v1/event-type/order.ready", obj{"description": "Ready.", "schemas": schemas}).want(http.StatusCreated)

	// The list leaves schemas out unless with_content, and archived types
	// unless include_archived.
	list := e.do("GET", "/api/v1/event-type", nil).want(http.StatusOK).object()
	items := list["data"].([]any)
	if len(items) != 2 || str(items[0].(map[string]any), "name") != "order.ready" {
		t.Fatalf("list = %v", list)
	}
	if items[0].(map[string]any)["schemas"] != nil {
		t.Errorf("list without with_content has schemas: %v", items[0])
	}
	full := e.do("GET", "/api/v1/event-type?with_content=true", nil).want(http.StatusOK).object()["data"].([]any)
	if full[0].(map[string]any)["schemas"] == nil {
		t.Errorf("list with_content lacks schemas: %v", full[0])
	}

	// DELETE archives; creating it again unarchives it.
	e.do("DELETE", "/api/v1/event-type/order.ready", nil).want(http.StatusNoContent)
	if n := len(e.do("GET", "/api/v1/event-type", nil).object()["data"].([]any)); n != 1 {
		t.Errorf("list after archiving: %d types, want 1", n)
	}
	archived := e.do("GET", "/api/v1/event-type?include_archived=true", nil).object()["data"].([]any)
	if len(archived) != 2 || archived[0].(map[string]any)["archived"] != true {
		t.Errorf("list include_archived = %v", archived)
	}
	back := e.do("POST", "/api/v1/event-type", obj{"name": "order.ready", "description": "Back."}).want(http.StatusCreated).object()
	if back["archived"] != false || str(back, "description") != "Back." {
		t.Errorf("unarchived = %v", back)
	}

	// DELETE with expunge removes it for good.
	e.do("DELETE", "/api/v1/event-type/order.ready?expunge=true", nil).want(http.StatusNoContent)
	e.do("GET", "/api/v1/event-type/order.ready", nil).want(http.StatusNotFound)
	e.do("DELETE", "/api/v1/event-type/order.ready", nil).want(http.StatusNotFound)
}

func TestEndpointFilterNeedsKnownEventTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createEventType("order.ready")
	app := str(e.createApp("a", ""), "id")

	for _, field := range []string{"filterTypes", "eventTypes"} {
		r := e.do("POST", "/api/v1/app/"+app+"/endpoint", obj{
			"url": "https://receiver.example.com/", field: []string{"order.ready", "nope.one", "nope.two"},
		}).want(http.StatusUnprocessableEntity)
		locs := validationLocs(t, r)
		if len(locs) != 1 || locs[0] != "body."+field {
			t.Errorf("%s: locs = %v", field, locs)
		}
		var body struct {
			Detail []struct{ Msg string } `json:"detail"`
		}
		r.decode(&body)
		if msg := body.Detail[0].Msg; msg != "the following event types don't exist or are archived: nope.one, nope.two" {
			t.Errorf("%s: msg = %q", field, msg)
		}
	}
	ep := str(e.createEndpoint(app, obj{"filterTypes": []string{"order.ready"}}), "id")
	e.do("PATCH", "/api/v1/app/"+app+"/endpoint/"+ep, obj{"filterTypes": []string{"nope"}}).want(http.StatusUnprocessableEntity)

	// An archived type takes no new subscriptions, through any of the three
	// ways of setting them; the endpoint keeps the ones it has.
	e.createEventType("order.gone")
	e.do("DELETE", "/api/v1/event-type/order.gone", nil).want(http.StatusNoContent)
	gone := []string{"order.ready", "order.gone"}
	e.do("POST", "/api/v1/app/"+app+"/endpoint", obj{"url": "https://receiver.example.com/", "eventTypes": gone}).want(http.StatusUnprocessableEntity)
	e.do("PUT", "/api/v1/app/"+app+"/endpoint/"+ep, obj{"url": "https://receiver.example.com/", "filterTypes": gone}).want(http.StatusUnprocessableEntity)
	r := e.do("PATCH", "/api/v1/app/"+app+"/endpoint/"+ep, obj{"eventTypes": gone}).want(http.StatusUnprocessableEntity)
	if locs := validationLocs(t, r); len(locs) != 1 || locs[0] != "body.eventTypes" {
		t.Errorf("archived: locs = %v", locs)
	}
	got := e.do("GET", "/api/v1/app/"+app+"/endpoint/"+ep, nil).want(http.StatusOK).object()
	if types, _ := got["filterTypes"].([]any); len(types) != 1 || types[0] != "order.ready" {
		t.Errorf("after refused updates, filterTypes = %v", got["filterTypes"])
	}
}

// TestEventTypeIteratorsHideGatedTypes: an application's key pages
// through the catalogue, forwards and back, at every page size, and sees
// each type it may see exactly once, in order; no iterator or
// prevIterator it is given is, or contains, the name of a type gated by a
// feature flag the key lacks. A key with the flag sees that type.
func TestEventTypeIteratorsHideGatedTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("Shop", "shop")
	hidden := []string{"b.gated", "c.gated", "e.gated", "g.gated"}
	for _, name := range []string{"a.open", "d.open", "f.open"} {
		e.createEventType(name)
	}
	for _, name := range hidden {
		e.do("POST", "/api/v1/event-type", obj{"name": name, "description": "gated", "featureFlag": "beta"}).want(http.StatusCreated)
	}
	visible := []string{"a.open", "d.open", "f.open"}
	key := e.portalToken("shop", obj{})

	type page struct {
		Data []struct {
			Name string `json:"name"`
		} `json:"data"`
		Iterator     *string `json:"iterator"`
		PrevIterator *string `json:"prevIterator"`
		Done         bool    `json:"done"`
	}
	get := func(key string, limit int, iter string) page {
		t.Helper()
		path := fmt.Sprintf("/api/v1/event-type?limit=%d", limit)
		if iter != "" {
			path += "&iterator=" + url.QueryEscape(iter)
		}
		var p page
		e.withKey(key, "GET", path, nil).want(http.StatusOK).decode(&p)
		for _, it := range []*string{p.Iterator, p.PrevIterator} {
			for _, h := range hidden {
				if it != nil && strings.Contains(*it, h) {
					t.Errorf("limit %d after %q: an iterator %q names the hidden %s", limit, iter, *it, h)
				}
			}
		}
		for _, d := range p.Data {
			if slices.Contains(hidden, d.Name) {
				t.Errorf("limit %d: the page shows the hidden %s", limit, d.Name)
			}
		}
		return p
	}
	names := func(p page) (out []string) {
		for _, d := range p.Data {
			out = append(out, d.Name)
		}
		return out
	}

	for limit := 1; limit <= len(visible)+len(hidden)+1; limit++ {
		var forward []string
		p := get(key, limit, "")
		for i := 0; ; i++ {
			if i > 10 {
				t.Fatalf("limit %d: no end after %d pages", limit, i)
			}
			forward = append(forward, names(p)...)
			if p.Done || p.Iterator == nil {
				break
			}
			p = get(key, limit, *p.Iterator)
		}
		if !slices.Equal(forward, visible) {
			t.Errorf("limit %d forwards: %v, want %v", limit, forward, visible)
		}
		// And back from the last page, through prevIterator.
		var back []string
		for i := 0; p.PrevIterator != nil; i++ {
			if i > 10 {
				t.Fatalf("limit %d: no start after %d pages back", limit, i)
			}
			back = append(names(p), back...)
			if p = get(key, limit, *p.PrevIterator); len(p.Data) == 0 {
				break
			}
		}
		back = append(names(p), back...)
		if !slices.Equal(back, visible) {
			t.Errorf("limit %d backwards: %v, want %v", limit, back, visible)
		}
	}

	beta := e.portalToken("shop", obj{"featureFlags": []string{"beta"}})
	var all page
	e.withKey(beta, "GET", "/api/v1/event-type?limit=250", nil).want(http.StatusOK).decode(&all)
	if got := names(all); len(got) != len(visible)+len(hidden) {
		t.Errorf("a key with the flag sees %v, want every type", got)
	}
}
