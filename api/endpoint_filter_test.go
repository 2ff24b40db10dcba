package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestEndpointFilter: the filter is the sub-resource …/filter and an
// input-only filter on create, PUT and PATCH; EndpointOut never carries
// it. An update that does not name it (a Svix SDK never does) keeps it.
func TestEndpointFilter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("shop", "shop-1")
	base := "/api/v1/app/shop-1/endpoint"
	const big = `payload.amount >= 5000 && payload.currency == "EUR"`

	read := func(path string) any {
		t.Helper()
		return e.do("GET", path+"/filter", nil).want(http.StatusOK).object()["filter"]
	}
	plain := e.createEndpoint("shop-1", obj{})
	if got := read(base + "/" + str(plain, "id")); got != nil {
		t.Errorf("an endpoint created without a filter: %v", got)
	}
	filtered := e.createEndpoint("shop-1", obj{"filter": big})
	if _, ok := filtered["filter"]; ok {
		t.Errorf("EndpointOut carries filter: %v", filtered)
	}
	path := base + "/" + str(filtered, "id")
	if got := read(path); got != big {
		t.Fatalf("created with a filter: %v", got)
	}

	for _, step := range []struct {
		name   string
		method string
		sub    string
		body   any
		status int
		want   any
	}{
		{"PutWithout", "PUT", "", obj{"url": "https://receiver.example.com/b"}, http.StatusOK, big},
		{"PatchOther", "PATCH", "", obj{"description": "big ones"}, http.StatusOK, big},
		{"PatchSet", "PATCH", "", obj{"filter": `eventType == "refund.succeeded"`}, http.StatusOK, `eventType == "refund.succeeded"`},
		{"PatchNull", "PATCH", "", obj{"filter": nil}, http.StatusOK, nil},
		{"PutSet", "PUT", "", obj{"url": "https://receiver.example.com/b", "filter": big}, http.StatusOK, big},
		{"PutBlank", "PUT", "", obj{"url": "https://receiver.example.com/b", "filter": "  "}, http.StatusOK, nil},
		{"SubSet", "PUT", "/filter", obj{"filter": `"eu" in channels`}, http.StatusNoContent, `"eu" in channels`},
		{"SubSetAgain", "PUT", "/filter", obj{"filter": `"eu" in channels`}, http.StatusNoContent, `"eu" in channels`},
		{"SubDelete", "DELETE", "/filter", nil, http.StatusNoContent, nil},
		{"SubDeleteAgain", "DELETE", "/filter", nil, http.StatusNoContent, nil},
	} {
		got := e.do(step.method, path+step.sub, step.body).want(step.status)
		if step.sub == "" {
			if _, ok := got.object()["filter"]; ok {
				t.Errorf("%s: EndpointOut carries filter", step.name)
			}
		}
		if r := read(path); r != step.want {
			t.Errorf("%s: filter = %v, want %v", step.name, r, step.want)
		}
	}
	e.do("GET", base+"/ep_nope/filter", nil).want(http.StatusNotFound)
	e.do("DELETE", base+"/ep_nope/filter", nil).want(http.StatusNotFound)
}

// TestEndpointFilterRefused: a filter that does not compile is 422 on
// body.filter, wherever it is given, with the place of the problem, and
// nothing changes.
func TestEndpointFilterRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("shop", "shop-1")
	base := "/api/v1/app/shop-1/endpoint"
	ep := e.createEndpoint("shop-1", obj{"filter": "true"})
	path := base + "/" + str(ep, "id")

	for _, tc := range []struct {
		name, method, path string
		body               obj
		msg                string // in the error's msg
	}{
		{"CreateUndeclared", "POST", base, obj{"url": "https://r.example.com/", "filter": `paylod.amount > 1`}, "line 1, column 1: undeclared reference to 'paylod'"},
		{"CreateSyntax", "POST", base, obj{"url": "https://r.example.com/", "filter": `payload.currency = "EUR"`}, "line 1, column 18"},
		{"CreateNotBool", "POST", base, obj{"url": "https://r.example.com/", "filter": `eventType`}, "not a bool"},
		{"CreateTooLong", "POST", base, obj{"url": "https://r.example.com/", "filter": strings.Repeat("true && ", 300) + "true"}, "the limit is 2048"},
		{"Put", "PUT", path, obj{"url": "https://r.example.com/", "filter": "payload.amount >"}, "line 1, column"},
		{"Patch", "PATCH", path, obj{"filter": "1 + 1"}, "gives int"},
		{"Sub", "PUT", path + "/filter", obj{"filter": "eventType ==\n  payload.x.y z"}, "line 2, column"},
		{"SubEmpty", "PUT", path + "/filter", obj{"filter": ""}, "DELETE"},
		{"SubMissing", "PUT", path + "/filter", obj{}, "field required"},
		{"SubNull", "PUT", path + "/filter", obj{"filter": nil}, "field required"},
	} {
		r := e.do(tc.method, tc.path, tc.body).want(http.StatusUnprocessableEntity)
		if locs := validationLocs(t, r); !slices.Equal(locs, []string{"body.filter"}) {
			t.Errorf("%s: errors at %v, want body.filter", tc.name, locs)
		}
		if !strings.Contains(string(r.Body), tc.msg) {
			t.Errorf("%s: %s, want it to say %q", tc.name, r.Body, tc.msg)
		}
	}
	e.do("PUT", path+"/filter", obj{"filter": 5}).want(http.StatusUnprocessableEntity)
	if got := e.do("GET", path+"/filter", nil).want(http.StatusOK).object()["filter"]; got != "true" {
		t.Errorf("filter after refused changes: %v", got)
	}
	list := e.do("GET", base, nil).want(http.StatusOK).object()["data"].([]any)
	if len(list) != 1 {
		t.Errorf("%d endpoints, want the one created before the refused ones", len(list))
	}
}

// TestEndpointFilterFanOut: a message goes only to the endpoints whose
// filter holds on it; one that fails on it (a missing field) gets nothing.
func TestEndpointFilterFanOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("shop", "shop-1")
	all := str(e.createEndpoint("shop-1", obj{}), "id")
	big := str(e.createEndpoint("shop-1", obj{"filter": `payload.amount >= 5000 && payload.currency == "EUR"`}), "id")
	eu := str(e.createEndpoint("shop-1", obj{"filter": `"eu" in channels && eventType.startsWith("payment.")`}), "id")

	for _, tc := range []struct {
		name string
		msg  obj
		want []string
	}{
		{"Big", obj{"eventType": "payment.captured", "payload": obj{"amount": 7500, "currency": "EUR"}}, []string{all, big}},
		{"Small", obj{"eventType": "payment.captured", "payload": obj{"amount": 10, "currency": "EUR"}}, []string{all}},
		{"NoCurrency", obj{"eventType": "payment.captured", "payload": obj{"amount": 9000}}, []string{all}},
		{"EU", obj{"eventType": "payment.captured", "payload": obj{"amount": 1}, "channels": []string{"eu"}}, []string{all, eu}},
		{"EUOrder", obj{"eventType": "order.created", "payload": obj{"amount": 1}, "channels": []string{"eu"}}, []string{all}},
	} {
		m := e.sendMessage("shop-1", tc.msg)
		var got []string
		for _, d := range e.do("GET", "/api/v1/app/shop-1/msg/"+str(m, "id")+"/endpoint", nil).want(http.StatusOK).object()["data"].([]any) {
			got = append(got, str(d.(map[string]any), "id"))
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(tc.want))
		if !slices.Equal(got, want) {
			t.Errorf("%s: sent to %v, want %v", tc.name, got, want)
		}
	}
}

// TestEndpointFilterTest: …/filter/test on a sample and on the last
// messages says which the endpoint would have been sent; nothing is sent.
func TestEndpointFilterTest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("shop", "shop-1")
	ep := e.createEndpoint("shop-1", obj{"filterTypes": nil, "channels": []string{"eu"}})
	path := "/api/v1/app/shop-1/endpoint/" + str(ep, "id") + "/filter/test"
	const big = `payload.amount >= 5000 && payload.currency == "EUR"`

	type result struct {
		MsgID      *string `json:"msgId"`
		EventType  string  `json:"eventType"`
		Timestamp  *string `json:"timestamp"`
		Subscribed bool    `json:"subscribed"`
		Matched    bool    `json:"matched"`
		Delivered  bool    `json:"delivered"`
		Error      *string `json:"error"`
	}
	var out struct {
		Data      []result `json:"data"`
		Delivered int      `json:"delivered"`
	}
	sample := func(body obj) result {
		t.Helper()
		e.do("POST", path, body).want(http.StatusOK).decode(&out)
		if len(out.Data) != 1 {
			t.Fatalf("%d results for a sample", len(out.Data))
		}
		return out.Data[0]
	}
	r := sample(obj{"filter": big, "eventType": "payment.captured", "payload": obj{"amount": 7500, "currency": "EUR"}, "channels": []string{"eu"}})
	if !r.Subscribed || !r.Matched || !r.Delivered || r.Error != nil || r.MsgID != nil || r.Timestamp != nil || out.Delivered != 1 {
		t.Errorf("matching sample: %+v (%d delivered)", r, out.Delivered)
	}
	r = sample(obj{"filter": big, "eventType": "payment.captured", "payload": obj{"amount": 7500, "currency": "EUR"}})
	if r.Subscribed || !r.Matched || r.Delivered || out.Delivered != 0 {
		t.Errorf("sample outside the endpoint's channels: %+v", r)
	}
	r = sample(obj{"filter": big, "eventType": "payment.captured", "payload": obj{"amount": 7500}, "channels": []string{"eu"}})
	if r.Matched || r.Delivered || r.Error == nil || !strings.Contains(*r.Error, "currency") {
		t.Errorf("sample without currency: %+v, want an error naming the key", r)
	}

	// The application's last messages, newest first, with the endpoint's
	// own filter when none is given.
	e.do("PUT", "/api/v1/app/shop-1/endpoint/"+str(ep, "id")+"/filter", obj{"filter": big}).want(http.StatusNoContent)
	var ids []string
	for _, amount := range []int{9000, 10, 6000} {
		m := e.sendMessage("shop-1", obj{"eventType": "payment.captured", "payload": obj{"amount": amount, "currency": "EUR"}, "channels": []string{"eu"}})
		ids = append(ids, str(m, "id"))
		e.clock.Advance(time.Millisecond)
	}
	e.do("POST", path, obj{"last": 2}).want(http.StatusOK).decode(&out)
	if len(out.Data) != 2 || out.Delivered != 1 {
		t.Fatalf("last 2: %+v", out)
	}
	if got := out.Data[0]; got.MsgID == nil || *got.MsgID != ids[2] || !got.Delivered || got.Timestamp == nil {
		t.Errorf("newest: %+v, want %s delivered", got, ids[2])
	}
	if got := out.Data[1]; got.MsgID == nil || *got.MsgID != ids[1] || got.Delivered || got.Matched {
		t.Errorf("second newest: %+v, want %s not matched", got, ids[1])
	}
	e.do("POST", path, obj{"last": 100, "filter": `payload.amount < 100`}).want(http.StatusOK).decode(&out)
	if len(out.Data) != 3 || out.Delivered != 1 || *out.Data[1].MsgID != ids[1] || !out.Data[1].Delivered {
		t.Errorf("last 100 with another filter: %+v", out)
	}

	for _, tc := range []struct {
		name string
		body obj
		loc  string
	}{
		{"NoMessage", obj{"filter": big, "eventType": "x"}, "body.payload"},
		{"NoEventType", obj{"filter": big, "payload": obj{}}, "body.eventType"},
		{"PayloadNotObject", obj{"filter": big, "payload": []int{1}, "eventType": "x"}, "body.payload"},
		{"Both", obj{"filter": big, "last": 5, "payload": obj{}}, "body.last"},
		{"LastZero", obj{"last": 0}, "body.last"},
		{"LastTooMany", obj{"last": 101}, "body.last"},
		{"BadFilter", obj{"filter": "payload.", "last": 5}, "body.filter"},
		{"EmptyFilter", obj{"filter": " ", "last": 5}, "body.filter"},
	} {
		if locs := validationLocs(t, e.do("POST", path, tc.body).want(http.StatusUnprocessableEntity)); !slices.Equal(locs, []string{tc.loc}) {
			t.Errorf("%s: errors at %v, want %s", tc.name, locs, tc.loc)
		}
	}
	// Without a filter of its own, one must be given.
	e.do("DELETE", "/api/v1/app/shop-1/endpoint/"+str(ep, "id")+"/filter", nil).want(http.StatusNoContent)
	if locs := validationLocs(t, e.do("POST", path, obj{"last": 5}).want(http.StatusUnprocessableEntity)); !slices.Equal(locs, []string{"body.filter"}) {
		t.Errorf("no filter anywhere: errors at %v", locs)
	}
	e.do("POST", "/api/v1/app/shop-1/endpoint/ep_nope/filter/test", obj{"last": 5, "filter": "true"}).want(http.StatusNotFound)

	// Testing sent nothing: the two messages the filter took when they
	// were accepted owe the endpoint a delivery each, no more.
	if got := len(e.deliver(200)); got != 2 {
		t.Errorf("%d deliveries after the tests, want the 2 filtered messages'", got)
	}
}

// TestEndpointFilterPortalKey: an application's key may set and test its
// endpoints' filters; a read-only one may only read them.
func TestEndpointFilterPortalKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("shop", "shop-1")
	ep := e.createEndpoint("shop-1", obj{})
	path := "/api/v1/app/shop-1/endpoint/" + str(ep, "id") + "/filter"
	_, token := e.portalAccess("shop-1", obj{})
	_, readOnly := e.portalAccess("shop-1", obj{"readOnly": true})
	as := func(key string) map[string]string { return map[string]string{"Authorization": "Bearer " + key} }

	e.doWith("PUT", path, obj{"filter": "true"}, as(token)).want(http.StatusNoContent)
	e.doWith("POST", path+"/test", obj{"last": 1}, as(token)).want(http.StatusOK)
	e.doWith("GET", path, nil, as(readOnly)).want(http.StatusOK)
	e.doWith("PUT", path, obj{"filter": "false"}, as(readOnly)).want(http.StatusForbidden)
	e.doWith("DELETE", path, nil, as(readOnly)).want(http.StatusForbidden)
	if got := e.do("GET", path, nil).want(http.StatusOK).object()["filter"]; got != "true" {
		t.Errorf("filter = %v, want the application key's", got)
	}
}
