package ui

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/hookbridge/hookbridge"
)

// The dashboard's inbound sources: every processor's URL with its rollout,
// and one source's notifications, newest first, with what became of each
// and of its payment. A notification that would move its payment backwards
// or sideways is marked stale; one its source's policy holds is released
// here through the API's release, so what may be released is the API's to
// say.

// sourcesPageSize is how many sources, and how many of a source's events,
// a page lists.
const sourcesPageSize = 25

// sourceRow is a source with what the list shows of it.
type sourceRow struct {
	Source   hookbridge.Source
	Rollout  string // the rollout in words
	Held     int    // events held now (up to heldCounted)
	MoreHeld bool   // at least heldCounted
}

// heldCounted bounds how many held events the list counts per source.
const heldCounted = 100

// sourcesPage lists the sources.
type sourcesPage struct {
	Sources []sourceRow
	Next    string // iterator of the next page
	Paged   bool
}

func (h *Handler) dashSources(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	ctx := r.Context()
	it := r.URL.Query().Get("after")
	if !hookbridge.HasPrefix(it, hookbridge.PrefixSource) {
		it = ""
	}
	page, err := h.store.ListSources(ctx, hookbridge.ListOptions{Limit: sourcesPageSize, Iterator: it, Order: hookbridge.OrderAscending})
	if err != nil {
		return err
	}
	p := sourcesPage{Paged: it != ""}
	for _, src := range page.Data {
		held, err := h.store.ListInboundEvents(ctx, src.ID, hookbridge.InboundFilter{
			ListOptions: hookbridge.ListOptions{Limit: heldCounted}, Held: true})
		if err != nil {
			return err
		}
		p.Sources = append(p.Sources, sourceRow{Source: src, Rollout: rolloutText(src.Rollout), Held: len(held.Data), MoreHeld: !held.Done})
	}
	if !page.Done && len(page.Data) > 0 {
		p.Next = page.Data[len(page.Data)-1].ID
	}
	v.Title, v.Nav, v.Data = "Sources", "sources", p
	h.render(w, r, http.StatusOK, "sources", v)
	return nil
}

// rolloutText says how far a rollout is switched on.
func rolloutText(r hookbridge.Rollout) string {
	if r.State != hookbridge.RolloutOn || !r.Limited() {
		return string(r.State)
	}
	var parts []string
	if len(r.Merchants) > 0 {
		parts = append(parts, "merchants "+strings.Join(r.Merchants, ", "))
	}
	if r.Percent != nil {
		parts = append(parts, fmt.Sprintf("%d%% of merchants (of payments, where a notification names no merchant)", *r.Percent))
	}
	return "on for " + strings.Join(parts, " and ")
}

// sourcePage is one source and a page of its events.
type sourcePage struct {
	Source   hookbridge.Source
	Rollout  string
	URL      string // the URL the processor posts to
	Events   []hookbridge.InboundEvent
	HeldOnly bool // only the held events are listed
	// Backfill is what the source's backfill has done; nil when the
	// source has no API credentials and never ran one.
	Backfill *hookbridge.BackfillState
	Next     string // the next page's query
	Paged    bool
}

func (h *Handler) dashSource(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	ctx := r.Context()
	ref, err := pathRef(r, "src")
	if err != nil {
		return err
	}
	if !hookbridge.HasPrefix(ref, hookbridge.PrefixSource) {
		return hookbridge.NotFound("source")
	}
	src, err := h.store.GetSource(ctx, ref)
	if err != nil {
		return err
	}
	// The URL to give the processor is the API's to say (--public-url).
	var out struct {
		URL string `json:"url"`
	}
	if err := h.callAPI(r, http.MethodGet, apiPath("source", src.ID), nil, &out); err != nil {
		return err
	}
	q := r.URL.Query()
	p := sourcePage{Source: *src, Rollout: rolloutText(src.Rollout), URL: out.URL, HeldOnly: q.Get("held") == "1"}
	it := q.Get("after")
	if !hookbridge.HasPrefix(it, hookbridge.PrefixInbound) {
		it = ""
	}
	p.Paged = it != ""
	page, err := h.store.ListInboundEvents(ctx, src.ID, hookbridge.InboundFilter{
		ListOptions: hookbridge.ListOptions{Limit: sourcesPageSize, Iterator: it}, Held: p.HeldOnly})
	if err != nil {
		return err
	}
	p.Events = page.Data
	st, err := h.store.GetBackfillState(ctx, src.ID)
	if err != nil {
		return err
	}
	if src.Credentials.API != (hookbridge.SourceAPICredentials{}) || st.Runs > 0 {
		p.Backfill = st
	}
	if !page.Done && len(page.Data) > 0 {
		p.Next = "?after=" + page.Data[len(page.Data)-1].ID
		if p.HeldOnly {
			p.Next += "&held=1"
		}
	}
	v.Title, v.Nav, v.Data = "Source "+sourceName(src), "sources", p
	h.render(w, r, http.StatusOK, "source", v)
	return nil
}

// sourceName is how a page names a source: its name, else its scheme.
func sourceName(src *hookbridge.Source) string {
	if src.Name != "" {
		return src.Name
	}
	return src.Scheme
}

// dashReleaseEvent releases a held event through the API, which forwards
// it and answers 409 for one that is not held.
func (h *Handler) dashReleaseEvent(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	src, err := pathRef(r, "src")
	if err != nil {
		return err
	}
	ev, err := pathRef(r, "ev")
	if err != nil {
		return err
	}
	if err := h.callAPI(r, http.MethodPost, apiPath("source", src, "events", ev, "release"), nil, nil); err != nil {
		return err
	}
	redirect(w, r, "/ui/sources/"+src+"?done=released")
	return nil
}
