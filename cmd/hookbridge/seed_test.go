package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/sqlite"
)

// TestSeededEventTypesCarrySchemas: a fresh server's catalogue has every
// canonical event type with its JSON Schema, and "send example" sends the
// schema's example.
func TestSeededEventTypesCarrySchemas(t *testing.T) {
	t.Parallel()
	srv := startTestServer(t)
	for _, et := range hookbridge.CanonicalEventTypes {
		code, body := callAPI(t, srv, "GET", "/api/v1/event-type/"+et.Name, nil, nil)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", et.Name, code, body)
		}
		var out struct {
			Schemas map[string]struct {
				Examples []json.RawMessage `json:"examples"`
			} `json:"schemas"`
		}
		if err := json.Unmarshal(body, &out); err != nil || len(out.Schemas["1"].Examples) == 0 {
			t.Errorf("%s: seeded without a schema and example: %s", et.Name, body)
		}
	}

	callAPI(t, srv, "POST", "/api/v1/app", []byte(`{"name":"Shop","uid":"shop"}`), nil)
	code, body := callAPI(t, srv, "POST", "/api/v1/app/shop/endpoint", []byte(`{"url":"http://127.0.0.1:9/hook"}`), nil)
	if code != http.StatusCreated {
		t.Fatalf("create endpoint: %d %s", code, body)
	}
	var ep struct{ ID string }
	_ = json.Unmarshal(body, &ep)
	code, body = callAPI(t, srv, "POST", "/api/v1/app/shop/endpoint/"+ep.ID+"/send-example", []byte(`{"eventType":"payment.updated"}`), nil)
	if code != http.StatusOK {
		t.Fatalf("send-example: %d %s", code, body)
	}
	var msg struct {
		Payload json.RawMessage `json:"payload"`
	}
	_ = json.Unmarshal(body, &msg)
	var want struct {
		One struct {
			Examples []json.RawMessage `json:"examples"`
		} `json:"1"`
	}
	for _, et := range hookbridge.CanonicalEventTypes {
		if et.Name == "payment.updated" {
			_ = json.Unmarshal(et.Schemas, &want)
		}
	}
	var got, exp bytes.Buffer
	_ = json.Compact(&got, msg.Payload)
	_ = json.Compact(&exp, want.One.Examples[0])
	if got.String() != exp.String() {
		t.Errorf("send-example sent %s, want the schema's example %s", got.String(), exp.String())
	}
}

// TestSeedUpgradesAnOlderCatalogue: a database seeded by the first
// generation (twelve types, no schemas) gets the types added since and the
// schemas of the types it has, but a type the operator deleted stays
// deleted and a schema the operator wrote stays theirs; seeding again
// changes nothing.
// firstGeneration opens a store on a new file holding the catalogue as the
// first generation seeded it (no schemas), payment.captured given the
// schemas mine if not nil, as an operator may have.
func firstGeneration(t *testing.T, mine json.RawMessage) *sqlite.Store {
	t.Helper()
	ctx := t.Context()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hookbridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for _, et := range hookbridge.CanonicalEventTypes {
		if eventTypeSince[et.Name] > 1 {
			continue
		}
		old := hookbridge.EventType{Name: et.Name, Description: et.Description}
		if et.Name == "payment.captured" {
			old.Schemas = mine
		}
		if err := store.CreateEventType(ctx, &old); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.PutSetting(ctx, settingEventTypesSeeded, "2025-01-01T00:00:00Z", true); err != nil {
		t.Fatal(err)
	}
	return store
}

func TestSeedUpgradesAnOlderCatalogue(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	mine := json.RawMessage(`{"1":{"type":"object","title":"mine"}}`)
	store := firstGeneration(t, mine)
	if err := store.DeleteEventType(ctx, "order.ready"); err != nil {
		t.Fatal(err)
	}

	for range 2 {
		if err := seedEventTypes(ctx, store); err != nil {
			t.Fatal(err)
		}
		for _, et := range hookbridge.CanonicalEventTypes {
			got, err := store.GetEventType(ctx, et.Name)
			switch {
			case et.Name == "order.ready":
				if !hookbridge.IsNotFound(err) {
					t.Errorf("order.ready, deleted by the operator, is back: %v", err)
				}
			case err != nil:
				t.Errorf("%s: %v", et.Name, err)
			case et.Name == "payment.captured":
				if !bytes.Equal(got.Schemas, mine) {
					t.Errorf("the operator's schema of payment.captured was replaced: %s", got.Schemas)
				}
			case !hasSchema(got.Schemas):
				t.Errorf("%s has no schema after the upgrade", et.Name)
			}
		}
	}
	if gen, err := seededGeneration(ctx, store); err != nil || gen != eventTypesGeneration {
		t.Errorf("generation %d (%v), want %d", gen, err, eventTypesGeneration)
	}
}

// TestSeedAddsTheSchemaVersions: a database seeded by the second generation
// (every type with its version "1" schema) or the third (version "2" too)
// gets the newer versions of the payment types' schemas, except where the
// operator changed the schema; the order types keep theirs.
func TestSeedAddsTheSchemaVersions(t *testing.T) {
	t.Parallel()
	for _, gen := range []int{2, 3} {
		t.Run(fmt.Sprint("generation", gen), func(t *testing.T) {
			t.Parallel()
			testSeedAddsTheSchemaVersions(t, gen)
		})
	}
}

func testSeedAddsTheSchemaVersions(t *testing.T, gen int) {
	ctx := t.Context()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hookbridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	mine := json.RawMessage(`{"1":{"type":"object","title":"mine"}}`)
	for _, et := range hookbridge.CanonicalEventTypes {
		old := hookbridge.EventType{Name: et.Name, Description: et.Description, Schemas: schemasBefore(et.Schemas, gen)}
		if et.Name == "refund.failed" {
			old.Schemas = mine
		}
		if err := store.CreateEventType(ctx, &old); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.PutSetting(ctx, settingEventTypesSeeded, "2025-01-01T00:00:00Z", true); err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutSetting(ctx, settingEventTypesGeneration, strconv.Itoa(gen), false); err != nil {
		t.Fatal(err)
	}
	if err := seedEventTypes(ctx, store); err != nil {
		t.Fatal(err)
	}
	for _, et := range hookbridge.CanonicalEventTypes {
		got, err := store.GetEventType(ctx, et.Name)
		if err != nil {
			t.Fatal(err)
		}
		var versions map[string]json.RawMessage
		_ = json.Unmarshal(got.Schemas, &versions)
		switch {
		case et.Name == "refund.failed":
			if !sameJSON(got.Schemas, mine) {
				t.Errorf("the operator's schema of refund.failed was replaced: %s", got.Schemas)
			}
		case !sameJSON(got.Schemas, et.Schemas):
			t.Errorf("%s: schemas after the upgrade %s, want the current ones", et.Name, got.Schemas)
		case !strings.HasPrefix(et.Name, "order.") && versions["3"] == nil:
			t.Errorf("%s has no version 3", et.Name)
		}
	}
}

// TestSeedTogether: instances starting at once on one database seed it at
// once. Each update of a schema applies only to the type as read, so one
// of two may find it changed by the other: it reads it again and finds
// nothing left to do, rather than failing to start.
func TestSeedTogether(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := firstGeneration(t, nil)
	const instances = 4
	errs := make(chan error, instances)
	for range instances {
		go func() { errs <- seedEventTypes(ctx, store) }()
	}
	for range instances {
		if err := <-errs; err != nil {
			t.Errorf("seeding at once: %v", err)
		}
	}
	for _, et := range hookbridge.CanonicalEventTypes {
		got, err := store.GetEventType(ctx, et.Name)
		if err != nil || len(et.Schemas) > 0 && !sameJSON(got.Schemas, et.Schemas) {
			t.Errorf("%s after seeding at once: %v, schemas %s", et.Name, err, got.Schemas)
		}
	}
}
