package hookbridge_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/hookbridge/hookbridge"
)

// TestCanonicalSchemas: every canonical event type has a version "1" JSON
// Schema that compiles, with at least one example, and every example is
// valid under its own schema; the schema refuses what it should.
func TestCanonicalSchemas(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, et := range hookbridge.CanonicalEventTypes {
		if seen[et.Name] {
			t.Errorf("%s is listed twice", et.Name)
		}
		seen[et.Name] = true
		var versions map[string]json.RawMessage
		if err := json.Unmarshal(et.Schemas, &versions); err != nil || len(versions) != 1 || versions["1"] == nil {
			t.Errorf("%s: schemas %s, want one version \"1\"", et.Name, et.Schemas)
			continue
		}
		sch := compileSchema(t, et.Name, versions["1"])
		var doc struct {
			Title       string            `json:"title"`
			Description string            `json:"description"`
			Examples    []json.RawMessage `json:"examples"`
		}
		if err := json.Unmarshal(versions["1"], &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Title != et.Name || doc.Description != et.Description || len(doc.Examples) == 0 {
			t.Errorf("%s: title %q, description %q, %d examples", et.Name, doc.Title, doc.Description, len(doc.Examples))
		}
		for i, ex := range doc.Examples {
			if err := sch.Validate(instance(t, ex)); err != nil {
				t.Errorf("%s: example %d does not match the schema: %v", et.Name, i, err)
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
