package backfill

// Square: SearchEvents, POST /v2/events. Followed: Square's API reference,
// Events API, "Search events"
// (https://developer.squareup.com/reference/square/events-api/SearchEvents)
// and "Pagination" (https://developer.squareup.com/docs/build-basics/common-api-patterns/pagination):
// events of the last 28 days; the body is {cursor, limit (at most 100),
// query: {filter: {created_at: {start_at}}, sort: {field: "DEFAULT",
// order: "ASC"}}}, and a later page repeats the same query with the cursor
// of the previous answer, {events: [...], metadata: [...], cursor}, until
// one comes without a cursor. Requests carry the Square-Version header and
// a bearer access token. Each event is the object a webhook delivers
// ({merchant_id, type, event_id, created_at, data}).

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// SquareBaseURL is Square's production API.
const SquareBaseURL = "https://connect.squareup.com"

// SquareVersion is the API version the requests ask for.
const SquareVersion = "2025-01-23"

const squarePageSize = 100

type square struct {
	token string
	base  string
	hc    *http.Client
}

type squareSearch struct {
	Cursor string      `json:"cursor,omitempty"`
	Limit  int         `json:"limit"`
	Query  squareQuery `json:"query"`
}

type squareQuery struct {
	Filter struct {
		CreatedAt struct {
			StartAt string `json:"start_at"`
		} `json:"created_at"`
	} `json:"filter"`
	Sort struct {
		Field string `json:"field"`
		Order string `json:"order"`
	} `json:"sort"`
}

func (s *square) List(ctx context.Context, since time.Time, fn func(Event) error) error {
	search := squareSearch{Limit: squarePageSize}
	search.Query.Filter.CreatedAt.StartAt = since.UTC().Format(time.RFC3339)
	search.Query.Sort.Field, search.Query.Sort.Order = "DEFAULT", "ASC"
	for {
		body, err := json.Marshal(search)
		if err != nil {
			return err
		}
		req, err := bearerRequest(ctx, http.MethodPost, s.base+"/v2/events", bytes.NewReader(body), s.token,
			"Square-Version", SquareVersion, "Content-Type", "application/json")
		if err != nil {
			return err
		}
		var page struct {
			Events []json.RawMessage `json:"events"`
			Cursor string            `json:"cursor"`
		}
		if err := doJSON(s.hc, req, "square", &page); err != nil {
			return err
		}
		if err := each("square", page.Events, "event_id", "created_at", nil, fn); err != nil {
			return err
		}
		if page.Cursor == "" || len(page.Events) == 0 {
			return nil
		}
		search.Cursor = page.Cursor
	}
}
