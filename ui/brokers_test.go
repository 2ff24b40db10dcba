package ui

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/dispatch/brokertest"
)

// TestBrokerEndpointPages: an endpoint whose URL names a broker (RabbitMQ
// here) is shown with its password masked on every page of the dashboard
// and the portal, its attempts say the broker acknowledged the message,
// and saving the edit form, which holds the masked URL, keeps the stored
// password.
func TestBrokerEndpointPages(t *testing.T) {
	t.Parallel()
	mq := brokertest.NewAMQP(t)
	st := newStack(t)
	app := st.app("Pizza Place", "merchant-42")
	secretURL := mq.URL(mq.Addr())
	password, _ := mq.Server.User.Password()
	ep := st.admin("POST", "/api/v1/app/"+app+"/endpoint", map[string]any{"url": secretURL}, http.StatusCreated)["id"].(string)
	msg := st.admin("POST", "/api/v1/app/"+app+"/msg", map[string]any{"eventType": "order.created", "payload": map[string]any{"orderId": "ord_1"}}, http.StatusAccepted)["id"].(string)
	waitFor(t, "the message to reach RabbitMQ", func() bool { return len(mq.Read(t)) == 1 })
	waitFor(t, "the attempt to be recorded", func() bool {
		page, err := st.store.ListAttempts(t.Context(), app, hookbridge.AttemptFilter{ListOptions: hookbridge.ListOptions{Limit: 10}, MsgID: msg})
		return err == nil && len(page.Data) == 1
	})

	masked := regexp.QuoteMeta(hookbridge.MaskURL(secretURL))
	shown := regexp.MustCompile(strings.ReplaceAll(masked, "&", "(&|&amp;)"))
	secret := mq.Server.User.Username() + ":" + password + "@"
	admin := st.browser()
	admin.signIn()
	consumer := st.browser()
	consumer.openPortal(st.portalLink(app, nil))
	for _, c := range []struct {
		b    *browser
		path string
	}{
		{admin, "/ui/apps/" + app},
		{admin, "/ui/apps/" + app + "/endpoints/" + ep},
		{admin, "/ui/apps/" + app + "/endpoints/" + ep + "/edit"},
		{admin, "/ui/apps/" + app + "/endpoints/" + ep + "/delete"},
		{admin, "/ui/apps/" + app + "/msg/" + msg},
		{consumer, "/portal/"},
		{consumer, "/portal/endpoints/" + ep},
		{consumer, "/portal/endpoints/" + ep + "/edit"},
		{consumer, "/portal/msg/" + msg},
	} {
		p := c.b.get(c.path).want(t, http.StatusOK)
		if strings.Contains(p.Body, secret) {
			t.Errorf("%s shows the broker's password", c.path)
		}
		if !shown.MatchString(p.Body) {
			t.Errorf("%s does not show the URL with its password masked", c.path)
		}
	}
	for _, path := range []string{"/ui/apps/" + app + "/msg/" + msg, "/portal/msg/" + msg} {
		b := admin
		if strings.HasPrefix(path, "/portal/") {
			b = consumer
		}
		p := b.get(path).want(t, http.StatusOK)
		if !strings.Contains(p.Body, "acknowledged") || !strings.Contains(p.Body, "PUBLISH amqp://") || strings.Contains(p.Body, "no response") {
			t.Errorf("%s does not show the attempt as published and acknowledged", path)
		}
	}

	// The edit form sends the masked URL back: the password stays.
	form := consumer.get("/portal/endpoints/"+ep+"/edit").want(t, http.StatusOK)
	consumer.post("/portal/endpoints/"+ep+"/edit", url.Values{"csrf": {form.csrf(t)}, "url": {hookbridge.MaskURL(secretURL)},
		"description": {"orders"}}).want(t, http.StatusSeeOther)
	stored, err := st.store.GetEndpoint(t.Context(), app, ep)
	if err != nil {
		t.Fatal(err)
	}
	if stored.URL != secretURL || stored.Description != "orders" {
		t.Errorf("after saving the form: url %q, description %q; want the URL unchanged, password included", stored.URL, stored.Description)
	}
}
