package api

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestListFilterCap: a list filter takes at most MaxFilterValues values,
// however they are spelled (comma-separated, repeated, indexed); 60 000
// names, sent by an application's own key, get a 422 on event_types
// rather than a search, on every list that takes the filter. At the cap,
// repeats are dropped and the filter works.
func TestListFilterCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("Shop", "shop")
	ep := str(e.createEndpoint("shop", obj{}), "id")
	e.sendMessage("shop", obj{"eventType": "order.ready", "eventId": "m1"})
	e.sendMessage("shop", obj{"eventType": "order.created"})
	e.deliver(200)
	key := e.portalToken("shop", obj{})

	names := make([]string, 60_000)
	for i := range names {
		names[i] = fmt.Sprintf("type.%d", i)
	}
	repeated := url.Values{"event_types": names}.Encode()
	indexed := make(url.Values)
	for i, n := range names {
		indexed.Set(fmt.Sprintf("event_types[%d]", i), n)
	}
	queries := map[string]string{
		"comma-separated": "event_types=" + url.QueryEscape(strings.Join(names, ",")),
		"repeated":        repeated,
		"indexed":         indexed.Encode(),
		"one past the cap": "event_types=" + strings.Join(names[:MaxFilterValues], ",") +
			"&event_types=order.ready",
	}
	lists := []string{
		"/api/v1/app/shop/msg",
		"/api/v1/app/shop/attempt/msg/m1",
		"/api/v1/app/shop/attempt/endpoint/" + ep,
	}
	for name, q := range queries {
		for _, list := range lists {
			r := e.withKey(key, "GET", list+"?"+q, nil).want(http.StatusUnprocessableEntity)
			if locs := validationLocs(t, r); !slices.Equal(locs, []string{"query.event_types"}) {
				t.Errorf("%s %s: 422 on %v, want only query.event_types", name, list, locs)
			}
			if !strings.Contains(string(r.Body), fmt.Sprintf("at most %d values", MaxFilterValues)) {
				t.Errorf("%s %s: the 422 does not state the cap: %.300s", name, list, r.Body)
			}
		}
	}

	// At the cap, with repeats and names that exist: the filter applies.
	atCap := slices.Repeat([]string{"order.ready"}, MaxFilterValues)
	var msgs struct {
		Data []struct {
			EventType string `json:"eventType"`
		} `json:"data"`
	}
	e.withKey(key, "GET", "/api/v1/app/shop/msg?"+url.Values{"event_types": atCap}.Encode(), nil).want(http.StatusOK).decode(&msgs)
	if len(msgs.Data) != 1 || msgs.Data[0].EventType != "order.ready" {
		t.Errorf("filtered on order.ready ×%d: %+v, want the one order.ready message", MaxFilterValues, msgs.Data)
	}
}

// TestFilterParamDropsRepeats: the filter is a set, sorted, each name
// once, and a bad name is named in the 422.
func TestFilterParamDropsRepeats(t *testing.T) {
	t.Parallel()
	q, _ := url.ParseQuery("event_types=b,a,b&event_types[]=c&event_types[0]=a&event_types=,")
	var fe fieldErrors
	if got := eventTypesParam(q, &fe); !slices.Equal(got, []string{"a", "b", "c"}) || fe.err() != nil {
		t.Errorf("eventTypesParam = %v (%v), want [a b c]", got, fe.err())
	}
	q, _ = url.ParseQuery("event_types=a,not%20ok")
	fe = nil
	eventTypesParam(q, &fe)
	if err := fe.err(); err == nil || !strings.Contains(err.Error(), `event_types: "not ok"`) {
		t.Errorf("a bad name: %v, want a 422 naming it", err)
	}
}

// TestQueryParameterCap: a query of more parameters than a request may
// have is a 422 on the one given most often, never a list that ignored
// them all (Go's parser reads none past 10 000).
func TestQueryParameterCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("Shop", "shop")
	spread := make(url.Values)
	for i := range maxQueryParams + 1 {
		spread.Set(fmt.Sprintf("p%d", i), "x")
	}
	for _, c := range []struct{ query, loc, msg string }{
		{strings.Repeat("limit=1&", 20_000) + "limit=1", "query.limit", "at most 100 values"},
		{strings.Repeat("channel=eu&", 600) + "limit=1", "query.channel", "at most 100 values"},
		{spread.Encode(), "query.", fmt.Sprintf("one of %d query parameters", maxQueryParams+1)},
	} {
		r := e.do("GET", "/api/v1/app/shop/msg?"+c.query, nil).want(http.StatusUnprocessableEntity)
		if locs := validationLocs(t, r); len(locs) != 1 || !strings.HasPrefix(locs[0], c.loc) || !strings.Contains(string(r.Body), c.msg) {
			t.Errorf("%.40s…: 422 %s, want one on %s saying %q", c.query, r.Body, c.loc, c.msg)
		}
	}
	// Empty pairs count, as Go's parser counts them.
	r := e.do("GET", "/api/v1/app/shop/msg?"+strings.Repeat("&", 20_000)+"event_types=order.ready", nil).want(http.StatusUnprocessableEntity)
	if locs := validationLocs(t, r); len(locs) != 1 || locs[0] != "query.event_types" {
		t.Errorf("20 000 empty pairs and a filter: 422 on %v, want query.event_types", locs)
	}
	// At the cap, the query is read.
	e.do("GET", "/api/v1/app/shop/msg?"+strings.Repeat("&", maxQueryParams-1)+"limit=1", nil).want(http.StatusOK)
}
