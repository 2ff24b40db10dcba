package main

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/hookbridge/hookbridge"
)

// Seeding the event type catalogue with the canonical types on start.

// settingEventTypesSeeded records that the canonical event types were
// seeded, so that ones an operator deleted are not brought back.
const settingEventTypesSeeded = "event_types_seeded"

// settingEventTypesGeneration records which generation of the canonical
// catalogue a database was seeded with (absent: 1 if it was seeded at all),
// so that a newer binary adds what came later without bringing back what
// an operator deleted or overwriting what an operator edited.
const settingEventTypesGeneration = "event_types_generation"

// Generations of the canonical catalogue: 1, the first twelve types; 2, a
// JSON Schema with an example on every type, and payment.updated; 3,
// version "2" of the payment.*, refund.* and dispute.* schemas (the
// payment's state); 4, their version "3" (how the event arrived: via).
const eventTypesGeneration = 4

// eventTypeSince is the generation that added a type; the others are 1.
var eventTypeSince = map[string]int{"payment.updated": 2}

// seedEventTypes brings the catalogue up to eventTypesGeneration: a fresh
// database gets every canonical type; one seeded by an older generation
// gets the types added since, the schema of each type it has that has none,
// and the newer schema of each type whose schema is still the one an older
// generation seeded (one the operator gave a schema of their own, or
// deleted, is left as it is).
func seedEventTypes(ctx context.Context, store hookbridge.Store) error {
	gen, err := seededGeneration(ctx, store)
	if err != nil || gen >= eventTypesGeneration {
		return err
	}
	for _, et := range hookbridge.CanonicalEventTypes {
		since := max(eventTypeSince[et.Name], 1)
		if since > gen {
			et := et
			if err := store.CreateEventType(ctx, &et); err != nil && hookbridge.ErrorCode(err) != hookbridge.ECONFLICT {
				return fmt.Errorf("seed event type %s: %w", et.Name, err)
			}
			continue
		}
		if len(et.Schemas) == 0 {
			continue
		}
		if err := seedSchema(ctx, store, et, gen); err != nil {
			return err
		}
	}
	if _, err := store.PutSetting(ctx, settingEventTypesSeeded, time.Now().UTC().Format(time.RFC3339), true); err != nil {
		return err
	}
	_, err = store.PutSetting(ctx, settingEventTypesGeneration, strconv.Itoa(eventTypesGeneration), false)
	return err
}

// seedSchema gives the catalogue's event type et's schemas, if what it has
// is what an older generation (gen) seeded, or none. The update applies
// to the type as read: one changed meanwhile (another instance seeding
// the same database as it starts, or an operator) is read again and
// judged again.
func seedSchema(ctx context.Context, store hookbridge.Store, et hookbridge.EventType, gen int) error {
	for tries := 1; ; tries++ {
		cur, err := store.GetEventType(ctx, et.Name)
		if hookbridge.IsNotFound(err) {
			return nil // deleted by the operator
		} else if err != nil {
			return fmt.Errorf("seed event type %s: %w", et.Name, err)
		}
		// Schemas came with generation 2, version "2" of the payment
		// types' with generation 3, version "3" with generation 4 (so
		// generation g seeded the versions before g): replace what an
		// older generation seeded, nothing else.
		if hasSchema(cur.Schemas) && !sameJSON(cur.Schemas, schemasBefore(et.Schemas, max(gen, 2))) {
			return nil
		}
		if sameJSON(cur.Schemas, et.Schemas) {
			return nil
		}
		cur.Schemas = et.Schemas
		err = store.UpdateEventType(ctx, cur)
		if hookbridge.ErrorCode(err) == hookbridge.ECONFLICT && tries < 3 {
			continue
		}
		if err != nil && !hookbridge.IsNotFound(err) {
			return fmt.Errorf("seed the schema of event type %s: %w", et.Name, err)
		}
		return nil
	}
}

// schemasBefore is an event type's Schemas without the versions from
// version before on: what an older generation seeded.
func schemasBefore(schemas []byte, before int) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(schemas, &m) != nil {
		return schemas
	}
	for v := range m {
		if n, err := strconv.Atoi(v); err == nil && n >= before {
			delete(m, v)
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		return schemas
	}
	return out
}

// sameJSON reports whether two JSON documents hold the same value, however
// a store wrote them back (PostgreSQL's jsonb orders object keys its way).
func sameJSON(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// seededGeneration is the catalogue generation the database was seeded
// with: 0 for none.
func seededGeneration(ctx context.Context, store hookbridge.Store) (int, error) {
	v, err := store.Setting(ctx, settingEventTypesGeneration)
	if err == nil {
		gen, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("setting %s is %q, not a number", settingEventTypesGeneration, v)
		}
		return gen, nil
	}
	if !hookbridge.IsNotFound(err) {
		return 0, err
	}
	if _, err := store.Setting(ctx, settingEventTypesSeeded); err == nil {
		return 1, nil
	} else if !hookbridge.IsNotFound(err) {
		return 0, err
	}
	return 0, nil
}

// hasSchema reports whether an event type's schemas hold any.
func hasSchema(raw []byte) bool {
	var m map[string]any
	return json.Unmarshal(raw, &m) == nil && len(m) > 0
}
