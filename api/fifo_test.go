package api

import (
	"net/http"
	"testing"
)

// TestEndpointFIFO: fifo is accepted on create, kept by an update that
// does not name it (a Svix SDK never does), changed by PATCH, and written
// only when true, so that an endpoint without it reads exactly as Svix's.
func TestEndpointFIFO(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("shop", "shop-1")
	base := "/api/v1/app/shop-1/endpoint"

	plain := e.do("POST", base, obj{"url": "https://receiver.example.com/a"}).want(http.StatusCreated).object()
	if _, ok := plain["fifo"]; ok {
		t.Errorf("an endpoint without fifo has it in its JSON: %v", plain)
	}
	ordered := e.do("POST", base, obj{"url": "https://receiver.example.com/b", "fifo": true}).want(http.StatusCreated).object()
	if ordered["fifo"] != true {
		t.Fatalf("created with fifo: %v", ordered)
	}
	path := base + "/" + str(ordered, "id")

	for _, step := range []struct {
		name   string
		method string
		body   obj
		want   any // the fifo field read back; nil = absent
	}{
		{"PutWithoutFIFO", "PUT", obj{"url": "https://receiver.example.com/b2"}, true},
		{"PatchOther", "PATCH", obj{"description": "orders"}, true},
		{"PatchOff", "PATCH", obj{"fifo": false}, nil},
		{"PutOn", "PUT", obj{"url": "https://receiver.example.com/b3", "fifo": true}, true},
	} {
		got := e.do(step.method, path, step.body).want(http.StatusOK).object()
		if got["fifo"] != step.want {
			t.Errorf("%s: fifo = %v, want %v", step.name, got["fifo"], step.want)
		}
		if read := e.do("GET", path, nil).want(http.StatusOK).object(); read["fifo"] != step.want {
			t.Errorf("%s: read back fifo = %v, want %v", step.name, read["fifo"], step.want)
		}
	}
	if locs := validationLocs(t, e.do("PATCH", path, obj{"fifo": nil}).want(http.StatusUnprocessableEntity)); len(locs) != 1 || locs[0] != "body.fifo" {
		t.Errorf("PATCH fifo null: errors at %v, want body.fifo", locs)
	}
}
