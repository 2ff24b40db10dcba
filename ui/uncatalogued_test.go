package ui

import (
	"net/http"
	"strings"
	"testing"
)

// TestOverviewShowsUncataloguedMessages: the overview says how many
// messages came with an event type not in the catalogue, and the latest
// such type, once there is one; not before.
func TestOverviewShowsUncataloguedMessages(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	app := st.app("Pizza Place", "merchant-42")
	st.admin("POST", "/api/v1/event-type", map[string]any{"name": "order.shipped", "description": "shipped"}, http.StatusCreated)
	send := func(eventType string) {
		st.admin("POST", "/api/v1/app/"+app+"/msg", map[string]any{"eventType": eventType, "payload": map[string]any{}}, http.StatusAccepted)
	}
	admin := st.browser()
	admin.signIn()

	send("order.shipped")
	if p := admin.get("/ui/").want(t, http.StatusOK); strings.Contains(p.Body, "Unknown event types") {
		t.Errorf("the overview shows unknown event types when every message's type is catalogued")
	}
	send("order.shiped")
	send("order.shipt")
	p := admin.get("/ui/").want(t, http.StatusOK)
	for _, want := range []string{
		`<span class="figure-label">Unknown event types</span><span class="figure-value warn">2</span>`,
		"latest <code>order.shipt</code>",
		`<a href="/ui/event-types">catalogue</a>`,
	} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the overview lacks %q:\n%s", want, p.Body)
		}
	}
}
