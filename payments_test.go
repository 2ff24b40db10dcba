package hookbridge_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/hookbridge/hookbridge"
)

// TestCanonicalSchemas: every canonical event type has a version "1" JSON
// Schema that compiles, with at least one example, and every example is
// valid under its own schema; the payment.*, refund.* and dispute.* types
// have a version "2" too, with the payment's state, whose example version
// "1" refuses (the schemas are closed), and a version "3" with how the event
// arrived (via), whose example version "2" refuses; the schema refuses what
// it should.
func TestCanonicalSchemas(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, et := range hookbridge.CanonicalEventTypes {
		if seen[et.Name] {
			t.Errorf("%s is listed twice", et.Name)
		}
		seen[et.Name] = true
		var versions map[string]json.RawMessage
		wantVersions := 1
		if !strings.HasPrefix(et.Name, "order.") {
			wantVersions = 3
		}
		if err := json.Unmarshal(et.Schemas, &versions); err != nil || len(versions) != wantVersions || versions["1"] == nil ||
			wantVersions == 3 && (versions["2"] == nil || versions["3"] == nil) {
			t.Errorf("%s: schemas %s, want versions \"1\" to \"%d\"", et.Name, et.Schemas, wantVersions)
			continue
		}
		examples := map[string][]json.RawMessage{}
		for v, raw := range versions {
			sch := compileSchema(t, et.Name+"-"+v, raw)
			var doc struct {
				Title       string            `json:"title"`
				Description string            `json:"description"`
				Examples    []json.RawMessage `json:"examples"`
			}
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Title != et.Name || doc.Description != et.Description || len(doc.Examples) == 0 {
				t.Errorf("%s v%s: title %q, description %q, %d examples", et.Name, v, doc.Title, doc.Description, len(doc.Examples))
			}
			for i, ex := range doc.Examples {
				if err := sch.Validate(instance(t, ex)); err != nil {
					t.Errorf("%s v%s: example %d does not match the schema: %v", et.Name, v, i, err)
				}
			}
			examples[v] = doc.Examples
		}
		if wantVersions == 3 {
			for _, older := range []string{"1", "2"} {
				newer := fmt.Sprint(older[0] - '0' + 1)
				sch := compileSchema(t, et.Name+"-"+older, versions[older])
				for _, ex := range examples[newer] {
					if sch.Validate(instance(t, ex)) == nil {
						t.Errorf("%s: version %s accepts version %s's example %s", et.Name, older, newer, ex)
					}
				}
			}
		}
	}

	// The schema holds the payload to its shape.
	var versions map[string]json.RawMessage
	for _, et := range hookbridge.CanonicalEventTypes {
		if et.Name == "payment.captured" {
			_ = json.Unmarshal(et.Schemas, &versions)
		}
	}
	sch := compileSchema(t, "payment.captured", versions["1"])
	v2 := compileSchema(t, "payment.captured-2", versions["2"])
	for _, bad := range []string{
		`{"id":"pi_1","status":"succeeded","amount":null,"processor":"stripe","sequence":0}`,                           // sequences start at 1
		`{"id":"pi_1","status":"succeeded","amount":null,"processor":"stripe","sequence":2,"paymentStatus":"settled"}`, // not a canonical status
		`{"id":"pi_1","status":"succeeded","amount":null,"processor":"stripe","stale":"yes"}`,                          // not a boolean
	} {
		if err := v2.Validate(instance(t, json.RawMessage(bad))); err == nil {
			t.Errorf("payment.captured v2 accepts %s", bad)
		}
	}
	if err := v2.Validate(instance(t, json.RawMessage(`{"id":"pi_1","status":"succeeded","amount":null,"processor":"stripe",
		"sequence":2,"previousStatus":null,"paymentStatus":"captured","stale":true}`))); err != nil {
		t.Errorf("payment.captured v2 refuses a first, stale event: %v", err)
	}
	for _, bad := range []string{
		`{"id":"pi_1","status":"succeeded","amount":2599,"processor":"stripe"}`,                          // an amount without a currency
		`{"id":"pi_1","status":"succeeded","amount":25.99,"currency":"EUR","processor":"stripe"}`,        // a major-unit amount
		`{"id":"pi_1","status":"succeeded","amount":"2599","currency":"EUR","processor":"stripe"}`,       // an amount as text
		`{"id":"pi_1","status":"succeeded","amount":2599,"currency":"eur","processor":"stripe"}`,         // a lower-case currency
		`{"id":"","status":"succeeded","amount":null,"processor":"stripe"}`,                              // no id
		`{"id":"pi_1","status":"succeeded","processor":"stripe"}`,                                        // no amount at all
		`{"id":"pi_1","status":"succeeded","amount":null,"processor":"stripe","card":"4242"}`,            // a field the payload has not
		`{"id":"pi_1","status":"succeeded","amount":null,"processor":"stripe","occurredAt":"yesterday"}`, // not a date-time
		`{"id":"pi_1","status":"succeeded","amount":-5,"currency":"EUR","processor":"stripe"}`,           // a negative amount
		`{"id":"pi_1","amount":2599,"currency":"EUR","processor":"stripe"}`,                              // no status
	} {
		if err := sch.Validate(instance(t, json.RawMessage(bad))); err == nil {
			t.Errorf("payment.captured accepts %s", bad)
		}
	}
}

func compileSchema(t *testing.T, name string, schema json.RawMessage) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	url := "https://hookbridge.invalid/schemas/" + strings.ReplaceAll(name, ".", "-") + ".json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("%s: the schema does not compile: %v", name, err)
	}
	return sch
}

func instance(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return v
}
