package api

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"
)

// page is one decoded list response.
type page struct {
	Data []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"data"`
	Iterator     *string `json:"iterator"`
	PrevIterator *string `json:"prevIterator"`
	Done         bool    `json:"done"`
}

func (e *env) page(path string, params url.Values) page {
	e.t.Helper()
	var p page
	e.do("GET", path+"?"+params.Encode(), nil).want(http.StatusOK).decode(&p)
	return p
}

// walk follows iterators from the first page until done, returning the
// keys seen (ids, or names for event types) and the number of pages.
func (e *env) walk(path string, params url.Values, key func(id, name string) string) ([]string, int) {
	e.t.Helper()
	var keys []string
	pages := 0
	for {
		p := e.page(path, params)
		pages++
		for _, d := range p.Data {
			keys = append(keys, key(d.ID, d.Name))
		}
		if p.Done {
			return keys, pages
		}
		if p.Iterator == nil || pages > 20 {
			e.t.Fatalf("page %d of %s: not done but no iterator", pages, path)
		}
		params.Set("iterator", *p.Iterator)
	}
}

func byID(id, _ string) string     { return id }
func byName(_, name string) string { return name }

func TestPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var apps, msgs []string
	for i := range 7 {
		apps = append(apps, str(e.createApp(fmt.Sprintf("app %d", i), ""), "id"))
	}
	for i := range 7 {
		e.createEventType(fmt.Sprintf("type.%d", i))
		msgs = append(msgs, str(e.sendMessage(apps[0], obj{}), "id"))
		e.clock.Advance(time.Millisecond)
	}
	newestFirst := func(ids []string) []string {
		out := slices.Clone(ids)
		slices.Reverse(out)
		return out
	}
	types := []string{"type.0", "type.1", "type.2", "type.3", "type.4", "type.5", "type.6"}

	for _, c := range []struct {
		name   string
		path   string
		params url.Values
		key    func(id, name string) string
		want   []string
	}{
		{"apps default (oldest first)", "/api/v1/app", url.Values{"limit": {"3"}}, byID, apps},
		{"apps ascending", "/api/v1/app", url.Values{"limit": {"3"}, "order": {"ascending"}}, byID, apps},
		{"apps descending", "/api/v1/app", url.Values{"limit": {"3"}, "order": {"descending"}}, byID, newestFirst(apps)},
		{"apps, one page", "/api/v1/app", url.Values{"limit": {"7"}}, byID, apps},
		{"messages (newest first)", "/api/v1/app/" + apps[0] + "/msg", url.Values{"limit": {"2"}}, byID, newestFirst(msgs)},
		{"event types by name", "/api/v1/event-type", url.Values{"limit": {"4"}}, byName, types},
		{"event types descending", "/api/v1/event-type", url.Values{"limit": {"4"}, "order": {"descending"}}, byName, newestFirst(types)},
	} {
		got, pages := e.walk(c.path, c.params, c.key)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: walked %v, want %v", c.name, got, c.want)
		}
		limit := 0
		fmt.Sscan(c.params.Get("limit"), &limit)
		if wantPages := max(1, (len(c.want)+limit-1)/limit); pages != wantPages {
			t.Errorf("%s: %d pages, want %d", c.name, pages, wantPages)
		}
	}

	// The first page says where it continues; the last one is done.
	first := e.page("/api/v1/app", url.Values{"limit": {"3"}})
	if first.Done || first.Iterator == nil || *first.Iterator != apps[2] || first.PrevIterator == nil || *first.PrevIterator != "-"+apps[0] {
		t.Errorf("first page: done %v iterator %v prev %v", first.Done, first.Iterator, first.PrevIterator)
	}

	// A prevIterator pages back: the items before the first one, in the
	// list's order.
	back := e.page("/api/v1/app", url.Values{"limit": {"2"}, "iterator": {"-" + apps[4]}})
	if len(back.Data) != 2 || back.Data[0].ID != apps[2] || back.Data[1].ID != apps[3] || back.Done {
		t.Errorf("page before %s = %+v", apps[4], back)
	}
	back = e.page("/api/v1/app/"+apps[0]+"/msg", url.Values{"limit": {"10"}, "iterator": {"-" + msgs[4]}})
	if len(back.Data) != 2 || back.Data[0].ID != msgs[6] || back.Data[1].ID != msgs[5] || !back.Done {
		t.Errorf("messages before %s = %+v", msgs[4], back)
	}

	// An empty list is done, with a null iterator.
	empty := e.page("/api/v1/app/"+apps[1]+"/msg", url.Values{})
	if !empty.Done || empty.Iterator != nil || len(empty.Data) != 0 {
		t.Errorf("empty list = %+v", empty)
	}
	raw := e.do("GET", "/api/v1/app/"+apps[1]+"/msg", nil).object()
	if _, ok := raw["iterator"]; !ok {
		t.Errorf("empty list has no iterator field: %v", raw)
	}
	if d, ok := raw["data"].([]any); !ok || len(d) != 0 {
		t.Errorf("empty list data = %v, want []", raw["data"])
	}
}
