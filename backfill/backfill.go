// Package backfill lists a payment processor's events from its own API, so
// that what its webhooks did not deliver can still be received: Stripe's
// GET /v1/events (with stripe-go), PayPal's GET
// /v1/notifications/webhooks-events, Square's SearchEvents (POST
// /v2/events) and GoCardless's GET /events. Each client hands on every
// event exactly as the processor's webhook would have carried it, so the
// receiver can read it with the same normaliser and key it with the same
// event id; what becomes of it (de-duplication, payment state, canonical
// messages) is the receiver's.
//
// Every request goes through one Transport, which counts requests, honours
// 429 Too Many Requests with its Retry-After, and retries 5xx answers and
// failed connections with exponential backoff; what still fails after
// that is an error for the run, which the caller records and retries on
// its next run. A run that fails has handed on only whole events, so the
// next run, starting from the same point, loses none.
package backfill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hookbridge/hookbridge"
)

// Event is one processor event as its events list returned it.
type Event struct {
	// ID is the processor's id of the event, the one its webhook carries
	// (and the receiver de-duplicates on).
	ID string
	// Created is when the processor created the event.
	Created time.Time
	// Body is the notification the webhook would have carried for the
	// event alone: the event object itself for Stripe, PayPal and Square,
	// {"events": [event]} for GoCardless.
	Body []byte
}

// A Lister lists a processor's events.
type Lister interface {
	// List calls fn for every event created at or after since, in the
	// order the processor lists them, following its pagination to the
	// end. An error from fn stops the listing and is returned.
	List(ctx context.Context, since time.Time, fn func(Event) error) error
}

// Schemes are the source schemes whose processor can be listed, sorted.
func Schemes() []string { return []string{"gocardless", "paypal", "square", "stripe"} }

// Supports reports whether scheme's processor can be listed.
func Supports(scheme string) bool { return slices.Contains(Schemes(), scheme) }

// ErrConfig is wrapped by New's errors for credentials that cannot work.
var ErrConfig = errors.New("backfill: invalid API credentials")

// CheckCredentials says what is wrong with c for scheme's processor, or
// "" when nothing is.
func CheckCredentials(scheme string, c hookbridge.SourceAPICredentials) string {
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return "baseUrl must be an http(s) URL without query or fragment"
		}
	}
	switch scheme {
	case "paypal":
		if c.ClientID == "" || c.ClientSecret == "" {
			return "PayPal takes clientId and clientSecret (a REST app's credentials)"
		}
		if c.Key != "" {
			return "PayPal takes clientId and clientSecret, not key"
		}
	case "stripe", "square", "gocardless":
		if c.Key == "" {
			return "key is required (" + keyName(scheme) + ")"
		}
		if c.ClientID != "" || c.ClientSecret != "" {
			return scheme + " takes key, not clientId and clientSecret"
		}
	default:
		return "the " + scheme + " scheme has no events list to backfill from; backfill is for " + strings.Join(Schemes(), ", ")
	}
	return ""
}

func keyName(scheme string) string {
	switch scheme {
	case "stripe":
		return "a restricted key with read access to events, rk_…"
	case "square":
		return "an access token with the EVENTS_READ permission"
	}
	return "a read-only access token"
}

// New returns the lister of scheme's processor, signed in with c, its
// requests made with hc (whose Transport should be a *Transport).
func New(scheme string, c hookbridge.SourceAPICredentials, hc *http.Client) (Lister, error) {
	if msg := CheckCredentials(scheme, c); msg != "" {
		return nil, fmt.Errorf("%w: %s", ErrConfig, msg)
	}
	base := strings.TrimRight(c.BaseURL, "/")
	switch scheme {
	case "stripe":
		return newStripe(c.Key, base, hc), nil
	case "paypal":
		return &paypal{id: c.ClientID, secret: c.ClientSecret, base: orDefault(base, PayPalBaseURL), hc: hc}, nil
	case "square":
		return &square{token: c.Key, base: orDefault(base, SquareBaseURL), hc: hc}, nil
	default:
		return &gocardless{token: c.Key, base: orDefault(base, GoCardlessBaseURL), hc: hc}, nil
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// eventOf reads a listed event's id (at idKey) and creation time (at
// createdKey: RFC 3339 text, or Unix seconds for Stripe), the event
// itself its body.
func eventOf(processor string, raw json.RawMessage, idKey, createdKey string) (Event, error) {
	var fields map[string]json.RawMessage
	var id string
	if err := json.Unmarshal(raw, &fields); err != nil || json.Unmarshal(fields[idKey], &id) != nil || id == "" {
		return Event{}, fmt.Errorf("%s: an event without %s in the events list", processor, idKey)
	}
	ev := Event{ID: id, Body: raw}
	var unix int64
	var text string
	switch {
	case json.Unmarshal(fields[createdKey], &unix) == nil:
		ev.Created = time.Unix(unix, 0).UTC()
	case json.Unmarshal(fields[createdKey], &text) == nil:
		t, _ := time.Parse(time.RFC3339Nano, text)
		ev.Created = t.UTC()
	}
	return ev, nil
}

// each hands on every event of a page: read with eventOf, its body made
// with wrap (nil: the event as listed).
func each(processor string, page []json.RawMessage, idKey, createdKey string, wrap func(json.RawMessage) ([]byte, error), fn func(Event) error) error {
	for _, raw := range page {
		ev, err := eventOf(processor, raw, idKey, createdKey)
		if err != nil {
			return err
		}
		if wrap != nil {
			if ev.Body, err = wrap(raw); err != nil {
				return err
			}
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	return nil
}
