package api

import (
	"net/http"
	"testing"
)

// TestEndpointFIFO: strict order is the sub-resource …/fifo, and an
// input-only fifo on create, PUT and PATCH; EndpointOut never carries it,
// so an endpoint reads exactly as Svix's. An update that does not name it
// (a Svix SDK never does) keeps it.
func TestEndpointFIFO(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("shop", "shop-1")
	base := "/api/v1/app/shop-1/endpoint"

	fifo := func(path string) any {
		t.Helper()
		return e.do("GET", path+"/fifo", nil).want(http.StatusOK).object()["enabled"]
	}
	plain := e.do("POST", base, obj{"url": "https://receiver.example.com/a"}).want(http.StatusCreated).object()
	if got := fifo(base + "/" + str(plain, "id")); got != false {
		t.Errorf("an endpoint created without fifo: enabled = %v", got)
	}
	ordered := e.do("POST", base, obj{"url": "https://receiver.example.com/b", "fifo": true}).want(http.StatusCreated).object()
	if _, ok := ordered["fifo"]; ok {
		t.Errorf("EndpointOut carries fifo: %v", ordered)
	}
	path := base + "/" + str(ordered, "id")
	if got := fifo(path); got != true {
		t.Fatalf("created with fifo: enabled = %v", got)
	}

	for _, step := range []struct {
		name   string
		method string
		sub    string // "" for the endpoint itself, "/fifo" for the sub-resource
		body   obj
		status int
		want   bool
	}{
		{"PutWithoutFIFO", "PUT", "", obj{"url": "https://receiver.example.com/b2"}, http.StatusOK, true},
		{"PatchOther", "PATCH", "", obj{"description": "orders"}, http.StatusOK, true},
		{"PatchOff", "PATCH", "", obj{"fifo": false}, http.StatusOK, false},
		{"PutOn", "PUT", "", obj{"url": "https://receiver.example.com/b3", "fifo": true}, http.StatusOK, true},
		{"SubOff", "PUT", "/fifo", obj{"enabled": false}, http.StatusNoContent, false},
		{"SubOffAgain", "PUT", "/fifo", obj{"enabled": false}, http.StatusNoContent, false},
		{"SubOn", "PUT", "/fifo", obj{"enabled": true}, http.StatusNoContent, true},
	} {
		got := e.do(step.method, path+step.sub, step.body).want(step.status)
		if step.sub == "" {
			if _, ok := got.object()["fifo"]; ok {
				t.Errorf("%s: EndpointOut carries fifo", step.name)
			}
		}
		if read := fifo(path); read != step.want {
			t.Errorf("%s: enabled = %v, want %v", step.name, read, step.want)
		}
	}
	if locs := validationLocs(t, e.do("PATCH", path, obj{"fifo": nil}).want(http.StatusUnprocessableEntity)); len(locs) != 1 || locs[0] != "body.fifo" {
		t.Errorf("PATCH fifo null: errors at %v, want body.fifo", locs)
	}
	for _, body := range []any{obj{}, obj{"enabled": nil}} {
		if locs := validationLocs(t, e.do("PUT", path+"/fifo", body).want(http.StatusUnprocessableEntity)); len(locs) != 1 || locs[0] != "body.enabled" {
			t.Errorf("PUT fifo %v: errors at %v, want body.enabled", body, locs)
		}
	}
	e.do("PUT", path+"/fifo", obj{"enabled": "yes"}).want(http.StatusUnprocessableEntity)
	e.do("GET", base+"/ep_nope/fifo", nil).want(http.StatusNotFound)
}
