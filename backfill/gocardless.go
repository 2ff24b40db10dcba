package backfill

// GoCardless: GET /events. Followed: GoCardless's API reference, "Events:
// List events" and "Making requests: Pagination, Versions"
// (https://developer.gocardless.com/api-reference#events-list-events,
// #making-requests-pagination): a bearer access token and the
// GoCardless-Version header (2015-07-06); created_at[gte] filters,
// limit is at most 500, and the answer {events: [...], meta: {cursors:
// {before, after}, limit}} is followed with after=<meta.cursors.after>
// until that is null. A webhook delivers events in a batch, {events:
// [...]}, so each is handed on as a batch of one.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// GoCardlessBaseURL is GoCardless's live API.
const GoCardlessBaseURL = "https://api.gocardless.com"

// GoCardlessVersion is the API version the requests ask for.
const GoCardlessVersion = "2015-07-06"

const gocardlessPageSize = 500

type gocardless struct {
	token string
	base  string
	hc    *http.Client
}

func (g *gocardless) List(ctx context.Context, since time.Time, fn func(Event) error) error {
	q := url.Values{"created_at[gte]": {since.UTC().Format("2006-01-02T15:04:05.000Z")}, "limit": {strconv.Itoa(gocardlessPageSize)}}
	for {
		req, err := bearerRequest(ctx, http.MethodGet, g.base+"/events?"+q.Encode(), nil, g.token,
			"GoCardless-Version", GoCardlessVersion, "Accept", "application/json")
		if err != nil {
			return err
		}
		var page struct {
			Events []json.RawMessage `json:"events"`
			Meta   struct {
				Cursors struct {
					After *string `json:"after"`
				} `json:"cursors"`
			} `json:"meta"`
		}
		if err := doJSON(g.hc, req, "gocardless", &page); err != nil {
			return err
		}
		if err := each("gocardless", page.Events, "id", "created_at", asBatch, fn); err != nil {
			return err
		}
		after := page.Meta.Cursors.After
		if after == nil || *after == "" || len(page.Events) == 0 {
			return nil
		}
		q.Set("after", *after)
	}
}

// asBatch is one event as a webhook carries it: {"events": [event]}.
func asBatch(raw json.RawMessage) ([]byte, error) {
	return json.Marshal(map[string][]json.RawMessage{"events": {raw}})
}
