package api

import (
	"net/http"
	"strings"
	"testing"
)

// TestEndpointOAuth: an endpoint's OAuth client credentials are the
// sub-resource …/oauth: PUT checks them (422 naming the field), GET never
// shows the secret, DELETE removes them; EndpointOut never carries them.
func TestEndpointOAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("shop", "shop-1")
	ep := e.createEndpoint("shop-1", obj{"url": "https://receiver.example.com/a"})
	path := "/api/v1/app/shop-1/endpoint/" + str(ep, "id") + "/oauth"

	e.do("GET", path, nil).want(http.StatusNotFound)
	e.do("DELETE", path, nil).want(http.StatusNotFound)
	good := obj{"tokenUrl": "https://auth.example.com/oauth/token", "clientId": "hookbridge", "clientSecret": "s3cret-Quixote",
		"scopes": []string{"webhooks.write"}, "audience": "https://receiver.example.com"}
	with := func(k string, v any) obj {
		o := obj{}
		for kk, vv := range good {
			o[kk] = vv
		}
		o[k] = v
		return o
	}
	for _, c := range []struct {
		name string
		body any
		locs []string
	}{
		{"Empty", obj{}, []string{"body.clientId", "body.clientSecret", "body.tokenUrl"}},
		{"NotHTTP", with("tokenUrl", "amqp://auth.example.com/token"), []string{"body.tokenUrl"}},
		{"Private", with("tokenUrl", "http://10.0.0.1/token"), []string{"body.tokenUrl"}},
		{"NoSecret", with("clientSecret", ""), []string{"body.clientSecret"}},
		{"BadScope", with("scopes", []string{"a b"}), []string{"body.scopes.0"}},
	} {
		r := e.do("PUT", path, c.body).want(http.StatusUnprocessableEntity)
		if locs := validationLocs(t, r); strings.Join(locs, ",") != strings.Join(c.locs, ",") {
			t.Errorf("%s: errors at %v, want %v", c.name, locs, c.locs)
		}
	}

	e.do("PUT", path, good).want(http.StatusOK)
	got := e.do("GET", path, nil).want(http.StatusOK)
	if strings.Contains(string(got.Body), "Quixote") {
		t.Fatalf("GET …/oauth shows the secret: %s", got.Body)
	}
	read := got.object()
	if str(read, "tokenUrl") != "https://auth.example.com/oauth/token" || str(read, "clientId") != "hookbridge" || str(read, "audience") != "https://receiver.example.com" {
		t.Errorf("read back %v", read)
	}
	epOut := e.do("GET", "/api/v1/app/shop-1/endpoint/"+str(ep, "id"), nil).want(http.StatusOK)
	if strings.Contains(string(epOut.Body), "oauth") || strings.Contains(string(epOut.Body), "clientId") {
		t.Errorf("EndpointOut carries the OAuth configuration: %s", epOut.Body)
	}
	e.do("PUT", path, obj{"tokenUrl": "https://auth.example.com/t2", "clientId": "x", "clientSecret": "y"}).want(http.StatusOK)
	read = e.do("GET", path, nil).want(http.StatusOK).object()
	if read["audience"] != nil || len(read["scopes"].([]any)) != 0 {
		t.Errorf("replaced without scopes or audience: %v", read)
	}
	e.do("DELETE", path, nil).want(http.StatusNoContent)
	e.do("GET", path, nil).want(http.StatusNotFound)
	e.do("PUT", "/api/v1/app/shop-1/endpoint/ep_nope/oauth", good).want(http.StatusNotFound)
}
