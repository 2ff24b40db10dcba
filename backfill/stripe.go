package backfill

// Stripe: GET /v1/events through stripe-go's backend, pointed at the
// source's base URL when it has one. Followed: Stripe's API reference,
// "List all events" (https://docs.stripe.com/api/events/list): events of
// the last 30 days, newest first, filtered with created[gte], up to 100 a
// page (limit), the next page asked for with starting_after=<the last id
// of this one> while has_more is true. Each item is the Event object a
// webhook delivers, so it is handed on as it is.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/form"
)

// stripePageSize is the largest page Stripe gives.
const stripePageSize = 100

type stripeLister struct {
	key     string
	backend stripe.Backend
}

func newStripe(key, base string, hc *http.Client) *stripeLister {
	cfg := &stripe.BackendConfig{
		HTTPClient:        hc,
		MaxNetworkRetries: stripe.Int64(0), // the Transport retries, honouring Retry-After
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	if base != "" {
		cfg.URL = stripe.String(base)
	}
	return &stripeLister{key: key, backend: stripe.GetBackendWithConfig(stripe.APIBackend, cfg)}
}

// stripeEventPage is a page of /v1/events with each event kept as
// received.
type stripeEventPage struct {
	stripe.APIResource
	HasMore bool              `json:"has_more"`
	Data    []json.RawMessage `json:"data"`
}

func (s *stripeLister) List(ctx context.Context, since time.Time, fn func(Event) error) error {
	params := &stripe.EventListParams{CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: since.Unix()}}
	params.Limit = stripe.Int64(stripePageSize)
	for {
		values := &form.Values{}
		form.AppendTo(values, params)
		var page stripeEventPage
		if err := s.backend.CallRaw(http.MethodGet, "/v1/events", s.key, []byte(values.Encode()), &stripe.Params{Context: ctx}, &page); err != nil {
			return stripeError(err)
		}
		last := ""
		if err := each("stripe", page.Data, "id", "created", nil, func(ev Event) error { last = ev.ID; return fn(ev) }); err != nil {
			return err
		}
		if !page.HasMore || last == "" {
			return nil
		}
		params.StartingAfter = stripe.String(last)
	}
}

// stripeError makes stripe-go's error for a failed answer a StatusError.
func stripeError(err error) error {
	var se *stripe.Error
	if errors.As(err, &se) && se.HTTPStatusCode != 0 {
		msg := se.Msg
		if msg == "" {
			msg = string(se.Type)
		}
		return &StatusError{Processor: "stripe", Status: se.HTTPStatusCode, Body: msg}
	}
	return fmt.Errorf("stripe: %w", err)
}
