package backfill_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/backfill"
	"github.com/hookbridge/hookbridge/backfill/backfilltest"
)

// base is the creation time of the first event the fake processors list.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newProcessor starts scheme's processor listing n events created one
// second apart from base.
func newProcessor(t *testing.T, scheme string, n int) *backfilltest.Processor {
	t.Helper()
	p := backfilltest.New(t, scheme)
	for i := range n {
		p.Add(backfilltest.Event(scheme, fmt.Sprintf("%s%04d", idPrefix[scheme], i), fmt.Sprintf("pay%04d", i), base.Add(time.Duration(i)*time.Second)))
	}
	return p
}

var idPrefix = map[string]string{"stripe": "evt_", "paypal": "WH-", "square": "sq-", "gocardless": "EV"}

// list lists every event since with a fresh transport, and returns them
// with the transport.
func list(t *testing.T, p *backfilltest.Processor, since time.Time) ([]backfill.Event, *backfill.Transport, error) {
	t.Helper()
	tr := &backfill.Transport{Backoff: time.Millisecond}
	l, err := backfill.New(p.Scheme, p.Credentials(), &http.Client{Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	var got []backfill.Event
	err = l.List(t.Context(), since, func(e backfill.Event) error { got = append(got, e); return nil })
	return got, tr, err
}

// TestListAllPages lists 250 events, which take several pages at every
// processor, and checks each comes once, with its id, creation time and a
// body that is the webhook's.
func TestListAllPages(t *testing.T) {
	for _, scheme := range backfill.Schemes() {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			n := 250
			if scheme == "gocardless" {
				n = 1200 // pages of 500
			}
			p := newProcessor(t, scheme, n)
			got, tr, err := list(t, p, base.Add(10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != n-10 {
				t.Fatalf("listed %d events, want %d", len(got), n-10)
			}
			seen := map[string]bool{}
			for _, e := range got {
				if seen[e.ID] {
					t.Fatalf("event %s listed twice", e.ID)
				}
				seen[e.ID] = true
				if e.Created.Before(base.Add(10 * time.Second)) {
					t.Errorf("event %s created %v, before since", e.ID, e.Created)
				}
				if !strings.Contains(string(e.Body), `"`+e.ID+`"`) {
					t.Errorf("event %s: body %s does not carry it", e.ID, e.Body)
				}
			}
			if scheme == "gocardless" && !strings.HasPrefix(string(got[0].Body), `{"events":[`) {
				t.Errorf("gocardless body %s is not a batch, as a webhook carries it", got[0].Body)
			}
			if tr.Requests() < 2 {
				t.Errorf("%d requests: the listing did not page", tr.Requests())
			}
		})
	}
}

// TestRetries answers the first request 429 with Retry-After: 1 and the
// next 503, and checks the listing waits as asked, retries and completes.
func TestRetries(t *testing.T) {
	for _, scheme := range backfill.Schemes() {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			p := newProcessor(t, scheme, 120)
			p.Fail(1, http.StatusTooManyRequests, map[string]string{"Retry-After": "1"})
			p.Fail(2, http.StatusServiceUnavailable, nil)
			got, tr, err := list(t, p, base)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 120 {
				t.Errorf("listed %d events, want 120", len(got))
			}
			if tr.Retries() != 2 {
				t.Errorf("retries = %d, want 2", tr.Retries())
			}
			if arrivals := p.Arrivals(); arrivals[1].Sub(arrivals[0]) < time.Second {
				gap := arrivals[1].Sub(arrivals[0])
				t.Errorf("retried %v after a 429 with Retry-After: 1", gap)
			}
		})
	}
}

// TestOutage answers every request 500: the listing fails with the status,
// after the transport's attempts, and hands on nothing.
func TestOutage(t *testing.T) {
	for _, scheme := range backfill.Schemes() {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			p := newProcessor(t, scheme, 10)
			p.FailAll(http.StatusInternalServerError)
			got, tr, err := list(t, p, base)
			var se *backfill.StatusError
			if !errors.As(err, &se) || se.Status != http.StatusInternalServerError {
				t.Fatalf("error = %v, want a StatusError 500", err)
			}
			if len(got) != 0 || tr.Requests() != backfill.DefaultAttempts {
				t.Errorf("listed %d events in %d requests; want none in %d", len(got), tr.Requests(), backfill.DefaultAttempts)
			}
		})
	}
}

// TestRequestsPer1000Events measures what a backfill of 1,000 events costs
// at each processor, retries aside: the figures docs/inbound.md quotes.
func TestRequestsPer1000Events(t *testing.T) {
	want := map[string]int64{"stripe": 10, "paypal": 5, "square": 10, "gocardless": 2}
	for _, scheme := range backfill.Schemes() {
		p := newProcessor(t, scheme, 1000)
		got, tr, err := list(t, p, base)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d events in %d requests", scheme, len(got), tr.Requests())
		if len(got) != 1000 || tr.Requests() != want[scheme] {
			t.Errorf("%s: %d events in %d requests, want 1000 in %d", scheme, len(got), tr.Requests(), want[scheme])
		}
	}
}

func TestCheckCredentials(t *testing.T) {
	for _, c := range []struct {
		scheme string
		creds  hookbridge.SourceAPICredentials
		ok     bool
	}{
		{"stripe", hookbridge.SourceAPICredentials{Key: "rk_live_1"}, true},
		{"stripe", hookbridge.SourceAPICredentials{}, false},
		{"stripe", hookbridge.SourceAPICredentials{Key: "rk", BaseURL: "ftp://x"}, false},
		{"paypal", hookbridge.SourceAPICredentials{ClientID: "a", ClientSecret: "b"}, true},
		{"paypal", hookbridge.SourceAPICredentials{Key: "k"}, false},
		{"adyen", hookbridge.SourceAPICredentials{Key: "k"}, false},
	} {
		if msg := backfill.CheckCredentials(c.scheme, c.creds); (msg == "") != c.ok {
			t.Errorf("%s %+v: %q", c.scheme, c.creds, msg)
		}
	}
}

// TestPayPalNextLinkElsewhere refuses to follow a next link to another
// host, which would carry the token there.
func TestPayPalNextLinkElsewhere(t *testing.T) {
	p := backfilltest.New(t, "paypal")
	p.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/oauth2/token" {
			fmt.Fprint(w, `{"access_token":"A21AA","token_type":"Bearer","expires_in":32400}`)
			return
		}
		fmt.Fprint(w, `{"events":[{"id":"WH-1","create_time":"2026-03-01T12:00:00Z"}],"count":1,"links":[{"href":"https://evil.example/v1/notifications/webhooks-events?page=2","rel":"next","method":"GET"}]}`)
	})
	if _, _, err := list(t, p, base); err == nil || !strings.Contains(err.Error(), "another host") {
		t.Fatalf("error = %v, want a refusal of the other host", err)
	}
}
