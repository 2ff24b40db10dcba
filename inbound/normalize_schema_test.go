package inbound_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/inbound"
)

// TestNormalizeSamples: every sample becomes the canonical type it should,
// with an id and the processor, or nothing with a note; every scheme has
// samples.
func TestNormalizeSamples(t *testing.T) {
	t.Parallel()
	mapped := map[string][]string{}
	for _, s := range samples() {
		events, err := inbound.Normalize(s.scheme, []byte(s.body), &s.verified, inbound.NormalizeOptions{})
		if err != nil {
			t.Errorf("%s %s: %v", s.scheme, s.name, err)
			continue
		}
		if len(events) != 1 {
			t.Errorf("%s %s: %d events, want 1: %+v", s.scheme, s.name, len(events), events)
			continue
		}
		e := events[0]
		if s.want == "" {
			if len(e.Messages) != 0 || e.Note == "" {
				t.Errorf("%s %s: messages %+v, note %q; want none, and a note", s.scheme, s.name, e.Messages, e.Note)
			}
			continue
		}
		if len(e.Messages) != 1 || e.Messages[0].EventType != s.want {
			t.Errorf("%s %s: messages %+v (note %q), want one %s", s.scheme, s.name, e.Messages, e.Note, s.want)
			continue
		}
		if p := e.Messages[0].Payload; p.ID == "" || p.Processor != s.scheme {
			t.Errorf("%s %s: payload %+v lacks its id or processor", s.scheme, s.name, p)
		}
		mapped[s.scheme] = append(mapped[s.scheme], s.name)
	}
	for _, scheme := range inbound.Names() {
		has := slices.ContainsFunc(samples(), func(s sample) bool { return s.scheme == scheme })
		if !has {
			t.Errorf("no sample for the scheme %s", scheme)
		}
		if inbound.Normalizes(scheme) != (len(mapped[scheme]) > 0) {
			t.Errorf("%s: Normalizes = %v, but %d samples map", scheme, inbound.Normalizes(scheme), len(mapped[scheme]))
		}
	}
	schemes := make([]string, 0, len(mapped))
	for scheme := range mapped {
		schemes = append(schemes, scheme)
	}
	sort.Strings(schemes)
	for _, scheme := range schemes {
		t.Logf("%-12s %2d processor events mapped: %s", scheme, len(mapped[scheme]), strings.Join(mapped[scheme], ", "))
	}
}

// TestNormalizedPayloadsMatchSchemas: every canonical message the
// normalisers make from the samples (every mapped processor event of every
// scheme), and from the amount cases, is valid under every version of the
// JSON Schema its event type carries in the catalogue (the payment state
// versions "2" and "3" add is filled in when a message is forwarded, and
// api's tests check it there); every type a normaliser makes is in the
// catalogue, and each of them is made at least once.
func TestNormalizedPayloadsMatchSchemas(t *testing.T) {
	t.Parallel()
	schemas := map[string][]*jsonschema.Schema{}
	for _, et := range hookbridge.CanonicalEventTypes {
		var versions map[string]json.RawMessage
		if err := json.Unmarshal(et.Schemas, &versions); err != nil {
			t.Fatalf("%s: %v", et.Name, err)
		}
		for v, raw := range versions {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("%s: %v", et.Name, err)
			}
			c := jsonschema.NewCompiler()
			c.AssertFormat()
			url := "https://hookbridge.invalid/" + et.Name + "-" + v + ".json"
			if err := c.AddResource(url, doc); err != nil {
				t.Fatal(err)
			}
			sch, err := c.Compile(url)
			if err != nil {
				t.Fatalf("%s: %v", et.Name, err)
			}
			schemas[et.Name] = append(schemas[et.Name], sch)
		}
	}
	made := map[string]int{}
	check := func(scheme, name string, events []inbound.Event) {
		t.Helper()
		for _, e := range events {
			for _, m := range e.Messages {
				versions := schemas[m.EventType]
				if versions == nil {
					t.Errorf("%s %s: %s is not a canonical event type", scheme, name, m.EventType)
					continue
				}
				b, err := json.Marshal(m.Payload)
				if err != nil {
					t.Fatal(err)
				}
				v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				for _, sch := range versions {
					if err := sch.Validate(v); err != nil {
						t.Errorf("%s %s: %s payload %s does not match a version of its schema: %v", scheme, name, m.EventType, b, err)
					}
				}
				made[m.EventType]++
			}
		}
	}
	for _, s := range samples() {
		events, err := inbound.Normalize(s.scheme, []byte(s.body), &s.verified, inbound.NormalizeOptions{})
		if err != nil {
			t.Fatalf("%s %s: %v", s.scheme, s.name, err)
		}
		check(s.scheme, s.name, events)
	}
	for _, c := range amountCases() {
		events, err := inbound.Normalize(c.scheme, []byte(c.body), &c.verified, inbound.NormalizeOptions{})
		if err != nil {
			t.Fatalf("%s %s: %v", c.scheme, c.currency, err)
		}
		check(c.scheme, c.currency, events)
	}
	for _, typ := range []string{inbound.PaymentAuthorized, inbound.PaymentCaptured, inbound.PaymentFailed, inbound.PaymentVoided,
		inbound.PaymentUpdated, inbound.RefundSucceeded, inbound.RefundFailed, inbound.DisputeOpened, inbound.DisputeClosed, inbound.OrderCancelled} {
		if made[typ] == 0 {
			t.Errorf("no sample makes %s", typ)
		}
	}
}
