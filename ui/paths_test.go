package ui

import (
	"net/http"
	"testing"
)

// TestPathsThatAreNotText: a page or action whose path holds U+0000 or
// bytes that are not UTF-8 names nothing and is answered 404 — on
// PostgreSQL too, which refuses such text in a query.
func TestPathsThatAreNotText(t *testing.T) {
	t.Parallel()
	for _, store := range []struct {
		name string
		opts []stackOption
	}{{"SQLite", nil}, {"PostgreSQL", []stackOption{onPostgres()}}} {
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			st := newStack(t, store.opts...)
			st.app("Shop", "shop")

			op := st.browser()
			op.signIn()
			for _, path := range []string{"/ui/apps/a%00b", "/ui/apps/%FF", "/ui/apps/shop/msg/%FF", "/ui/event-types/%00"} {
				if p := op.get(path); p.Status != http.StatusNotFound {
					t.Errorf("GET %s: %d, want 404", path, p.Status)
				}
			}
			consumer := st.browser()
			consumer.openPortal(st.portalLink("shop", nil))
			for _, path := range []string{"/portal/endpoints/%FF", "/portal/endpoints/a%00b/edit", "/portal/msg/%00"} {
				if p := consumer.get(path); p.Status != http.StatusNotFound {
					t.Errorf("GET %s: %d, want 404", path, p.Status)
				}
			}
			csrf := consumer.get("/portal/").want(t, http.StatusOK).csrf(t)
			if p := consumer.post("/portal/endpoints/%FF/rotate", map[string][]string{"csrf": {csrf}}); p.Status != http.StatusNotFound {
				t.Errorf("POST /portal/endpoints/%%FF/rotate: %d, want 404", p.Status)
			}
		})
	}
}
