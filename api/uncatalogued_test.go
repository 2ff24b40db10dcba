package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// unknownTypesMetric returns the value of hookbridge_messages_unknown_event_type_total
// that the Server, as a Prometheus collector, reports.
func (e *env) unknownTypesMetric() string {
	e.t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.api)
	families, err := reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "hookbridge_messages_unknown_event_type_total" && len(f.GetMetric()) == 1 {
			return "hookbridge_messages_unknown_event_type_total " + strconv.FormatFloat(f.GetMetric()[0].GetCounter().GetValue(), 'f', -1, 64)
		}
	}
	e.t.Fatalf("no hookbridge_messages_unknown_event_type_total in %v", families)
	return ""
}

// wantUncatalogued fails the test unless the server counted n messages of
// event types not in the catalogue, the latest of type last.
func (e *env) wantUncatalogued(n uint64, last string) {
	e.t.Helper()
	count, gotLast := e.api.UncataloguedMessages()
	if count != n || gotLast != last {
		e.t.Errorf("UncataloguedMessages() = %d, %q; want %d, %q", count, gotLast, n, last)
	}
	if line, want := e.unknownTypesMetric(), "hookbridge_messages_unknown_event_type_total "+strconv.FormatUint(n, 10); line != want {
		e.t.Errorf("metrics: %q, want %q", line, want)
	}
}

// TestUncataloguedEventTypeCounted: by default a message whose event type
// is not in the catalogue is accepted, as Svix does, and counted, once per
// message stored (not again for a repeated eventId), single or in a batch;
// a type added to the catalogue stops being counted at once.
func TestUncataloguedEventTypeCounted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createEventType("order.shipped")
	app := str(e.createApp("shop", "shop-1"), "id")

	e.sendMessage(app, obj{"eventType": "order.shipped"})
	e.wantUncatalogued(0, "")
	e.sendMessage(app, obj{"eventType": "order.shiped", "eventId": "evt-typo"})
	e.wantUncatalogued(1, "order.shiped")
	e.do("POST", "/api/v1/app/"+app+"/msg", obj{"eventType": "order.shiped", "eventId": "evt-typo", "payload": obj{}}).
		want(http.StatusConflict) // a repeat stores nothing
	e.wantUncatalogued(1, "order.shiped")

	out := e.sendBatch("/api/v1/app/shop-1/msg/batch", obj{"messages": []obj{
		{"eventType": "order.shipped", "payload": obj{}},
		{"eventType": "order.shiped", "payload": obj{}},
		{"eventType": "order.shipt", "payload": obj{}},
	}})
	for i, r := range out.Data {
		if r.Status != http.StatusAccepted {
			t.Errorf("batch result %d: %+v, want 202", i, r)
		}
	}
	e.wantUncatalogued(3, "order.shipt")

	e.createEventType("order.shipt")
	e.sendMessage(app, obj{"eventType": "order.shipt"})
	e.wantUncatalogued(3, "order.shipt")
}

// TestUncataloguedEventTypeDeleted: a type found in the catalogue is
// taken to be there for a while without asking again; once it is deleted,
// its messages are counted again after that while at most.
func TestUncataloguedEventTypeDeleted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createEventType("order.shipped")
	app := str(e.createApp("shop", "shop-1"), "id")
	e.sendMessage(app, obj{"eventType": "order.shipped"})
	e.do("DELETE", "/api/v1/event-type/order.shipped?expunge=true", nil).want(http.StatusNoContent)
	e.clock.Advance(knownTypesTTL)
	e.sendMessage(app, obj{"eventType": "order.shipped"})
	e.wantUncatalogued(1, "order.shipped")
}

// TestStrictEventTypes: with StrictEventTypes a message of an event type
// not in the catalogue, or archived, is refused with a 422 naming
// body.eventType, alone or within a batch, and nothing of it is stored.
func TestStrictEventTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.StrictEventTypes = true })
	e.createEventType("order.shipped")
	e.createEventType("order.old")
	e.do("DELETE", "/api/v1/event-type/order.old", nil).want(http.StatusNoContent) // archives it
	app := str(e.createApp("shop", "shop-1"), "id")

	e.sendMessage(app, obj{"eventType": "order.shipped"})
	for _, tc := range []struct{ eventType, msg string }{
		{"order.shiped", "not in the event type catalogue"},
		{"order.old", "archived"},
	} {
		r := e.do("POST", "/api/v1/app/"+app+"/msg", obj{"eventType": tc.eventType, "payload": obj{}}).want(http.StatusUnprocessableEntity)
		if locs := validationLocs(t, r); !slices.Equal(locs, []string{"body.eventType"}) {
			t.Errorf("%s: 422 on %v, want body.eventType", tc.eventType, locs)
		}
		if !strings.Contains(string(r.Body), tc.eventType) || !strings.Contains(string(r.Body), tc.msg) {
			t.Errorf("%s: 422 body %s does not name the type and say %q", tc.eventType, r.Body, tc.msg)
		}
	}

	out := e.sendBatch("/api/v1/app/shop-1/msg/batch", obj{"messages": []obj{
		{"eventType": "order.shiped", "payload": obj{}},
		{"eventType": "order.shipped", "payload": obj{}},
		{"eventType": "order.old", "payload": obj{}},
	}})
	if len(out.Data) != 3 || out.Data[1].Status != http.StatusAccepted {
		t.Fatalf("batch: %+v, want the catalogued message accepted", out.Data)
	}
	for _, i := range []int{0, 2} {
		r := out.Data[i]
		if r.Status != http.StatusUnprocessableEntity || r.Error == nil || len(r.Error.Fields) != 1 ||
			strings.Join(r.Error.Fields[0].Loc, ".") != "body.messages."+strconv.Itoa(i)+".eventType" {
			t.Errorf("batch result %d: %+v, want 422 on body.messages.%d.eventType", i, r, i)
		}
	}

	var list struct {
		Data []struct {
			EventType string `json:"eventType"`
		} `json:"data"`
	}
	e.do("GET", "/api/v1/app/"+app+"/msg", nil).want(http.StatusOK).decode(&list)
	if len(list.Data) != 2 || list.Data[0].EventType != "order.shipped" || list.Data[1].EventType != "order.shipped" {
		t.Errorf("stored messages %+v, want the two of order.shipped only", list.Data)
	}
	e.wantUncatalogued(0, "")
}
