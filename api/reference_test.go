package api

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

// svixDifferences are the places where the served document deliberately
// differs from the Svix server's (testdata/svix-server-openapi.json, the
// reference the API is built to), each with its reason; docs/api.md
// explains them to users. Any other difference between the two, in an
// operation or a schema of the reference, fails TestOpenAPIMatchesSvixReference:
// a field, a required flag, a type, a parameter or a status that drifted.
// Additions of Hookbridge's own — operations and schemas the reference
// lacks — are not differences: they are listed in docs/api.md.
var svixDifferences = map[string]string{
	// Statuses.
	"*: status 400 added": "a request that cannot be read (a body that is not JSON, a body where none belongs) " +
		"or cannot be acted on as it stands is 400 with HttpErrorOut; the reference declares no 400",
	"*: status 413 added": "a body over the size limit is 413 with HttpErrorOut, on every operation that takes one",
	"*: status 503 added": "a request the store cannot write for now (disk full, read-only, database down) " +
		"is 503 with HttpErrorOut and Retry-After, not 500; health answers 503 when the database does not answer",
	"POST /api/v1/auth/logout: status 401 added": "a missing, wrong or expired key is 401 as on every " +
		"authenticated operation, and so is a token already logged out; the reference declares none here",
	"DELETE /api/v1/app/{app_id}/msg/{msg_id}/content: status 204 added": "the reference declares no success " +
		"status; the Svix server and its SDKs use 204",
	"DELETE /api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/content: status 204 added": "the reference " +
		"declares no success status; the Svix server and its SDKs use 204",

	// The reference forgets to declare the path parameter of four operations.
	"DELETE /api/v1/app/{app_id}: parameter path app_id added":  "declared, as OpenAPI requires",
	"GET /api/v1/app/{app_id}: parameter path app_id added":     "declared, as OpenAPI requires",
	"PATCH /api/v1/app/{app_id}: parameter path app_id added":   "declared, as OpenAPI requires",
	"GET /api/v1/app/{app_id}/msg: parameter path app_id added": "declared, as OpenAPI requires",

	// Output: the names the Svix server still writes beside the reference's,
	// which older SDKs (and the Go SDK's models) read.
	"schema ApplicationOut: property rateLimit added":       "the older name of throttleRate, written too",
	"schema EndpointOut: property filterTypes added":        "the older name of eventTypes, written too",
	"schema EndpointOut: property rateLimit added":          "the older name of throttleRate, written too",
	"schema EndpointOut: property version added":            "deprecated, always 1; the Svix server writes it",
	"schema MessageEndpointOut: property filterTypes added": "the older name of eventTypes, written too",
	"schema MessageEndpointOut: property rateLimit added":   "the older name of throttleRate, written too",
	"schema MessageEndpointOut: property version added":     "deprecated, always 1; the Svix server writes it",
	"GET /api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}: parameter query with_msg added": "Svix's newer " +
		"API: with_msg=true includes each attempt's message (MessageAttemptOut.msg)",
	"GET /api/v1/app/{app_id}/attempt/msg/{msg_id}: parameter query with_msg added": "Svix's newer API: " +
		"with_msg=true includes each attempt's message",
	"schema MessageAttemptOut: property msg added": "only with with_msg=true, as in Svix's newer API and SDKs",

	// Input: older names and Hookbridge's input-only settings. None is
	// ever written back inside a Svix model.
	"schema ApplicationIn: property rateLimit added":       "the older name of throttleRate, accepted",
	"schema ApplicationPatch: property rateLimit added":    "the older name of throttleRate, accepted",
	"schema EndpointIn: property filterTypes added":        "the older name of eventTypes, accepted",
	"schema EndpointIn: property rateLimit added":          "the older name of throttleRate, accepted",
	"schema EndpointIn: property version added":            "deprecated, accepted and checked (at least 1)",
	"schema EndpointIn: property headers added":            "the endpoint's headers in one call, as Svix's newer EndpointIn",
	"schema EndpointIn: property fifo added":               "input only: strict order, read at …/endpoint/{endpoint_id}/fifo",
	"schema EndpointIn: property filter added":             "input only: the endpoint's filter, read at …/endpoint/{endpoint_id}/filter",
	"schema EndpointUpdate: property filterTypes added":    "the older name of eventTypes, accepted",
	"schema EndpointUpdate: property rateLimit added":      "the older name of throttleRate, accepted",
	"schema EndpointUpdate: property version added":        "deprecated, accepted and checked",
	"schema EndpointUpdate: property headers added":        "replaces the headers when given; absent keeps them",
	"schema EndpointUpdate: property fifo added":           "input only: strict order; absent keeps it",
	"schema EndpointUpdate: property filter added":         "input only: the endpoint's filter; absent keeps it",
	"schema EndpointPatch: property filterTypes added":     "the older name of eventTypes, accepted",
	"schema EndpointPatch: property rateLimit added":       "the older name of throttleRate, accepted",
	"schema EndpointPatch: property version added":         "deprecated, accepted and checked",
	"schema EndpointPatch: property secret added":          "as in Svix's newer EndpointPatch",
	"schema EndpointPatch: property fifo added":            "input only: strict order",
	"schema EndpointPatch: property filter added":          "input only: the endpoint's filter; null removes it",
	"schema EventTypeIn: property retrySchedule added":     "input only: the event type's retry schedule, read at …/event-type/{event_type_name}/retry-schedule",
	"schema EventTypeUpdate: property retrySchedule added": "input only: the event type's retry schedule; absent keeps it",
	"schema EventTypePatch: property retrySchedule added":  "input only: the event type's retry schedule; null removes it",
	"schema MessageIn: property deliverAt added":           "Svix cloud's scheduled delivery, input only: listed at …/scheduled-msg",
	"schema MessageIn: property data added":                "the older name of payload, accepted as the Svix server does",
	"schema AppPortalAccessIn: property expiry added":      "the link's lifetime in seconds, as in Svix's newer API",
	"schema AppPortalAccessIn: property readOnly added":    "a portal that only shows, as in Svix's newer API",

	// Background tasks: the reference knows only a recovery, running.
	"schema BackgroundTaskStatus: enum values [finished failed] added": "a task's status after it ran, as Svix " +
		"cloud's BackgroundTaskStatus: recoveries and replays are real tasks, polled at /api/v1/background-task/{task_id}",
	"schema BackgroundTaskType: enum values [endpoint.replay endpoint.bulk_replay] added": "replay-missing and " +
		"bulk-replay, as Svix cloud's BackgroundTaskType names them",
}

// TestOpenAPIMatchesSvixReference compares the served document with the
// Svix reference, operation by operation and schema by schema, and fails
// on every difference not in svixDifferences, and on every entry there
// that no longer differs.
func TestOpenAPIMatchesSvixReference(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/svix-server-openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref, ours openAPIDoc
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(openAPIDocument, &ours); err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, d := range compareDocs(&ref, &ours) {
		// "*: …" declares a difference on every operation.
		declared := d
		if _, rest, ok := strings.Cut(d, ": "); ok && !strings.HasPrefix(d, "schema ") {
			if _, any := svixDifferences["*: "+rest]; any {
				declared = "*: " + rest
			}
		}
		found[declared] = true
		if _, ok := svixDifferences[declared]; !ok {
			t.Errorf("undeclared difference from the Svix reference: %s", d)
		}
	}
	for d := range svixDifferences {
		if !found[d] {
			t.Errorf("declared difference no longer found (remove it from svixDifferences and docs/api.md): %s", d)
		}
	}
}

// openAPIDoc is the part of an OpenAPI 3.0 document the comparison reads.
type openAPIDoc struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]schemaDoc `json:"schemas"`
	} `json:"components"`
}

type operationDoc struct {
	OperationID string `json:"operationId"`
	Parameters  []struct {
		Name     string `json:"name"`
		In       string `json:"in"`
		Required bool   `json:"required"`
	} `json:"parameters"`
	RequestBody *struct {
		Content map[string]struct {
			Schema schemaDoc `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Content map[string]struct {
			Schema schemaDoc `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

type schemaDoc struct {
	Ref        string               `json:"$ref"`
	AllOf      []schemaDoc          `json:"allOf"`
	Type       string               `json:"type"`
	Format     string               `json:"format"`
	Nullable   bool                 `json:"nullable"`
	Enum       []any                `json:"enum"`
	Items      *schemaDoc           `json:"items"`
	Properties map[string]schemaDoc `json:"properties"`
	Required   []string             `json:"required"`
	Minimum    *float64             `json:"minimum"`
	Maximum    *float64             `json:"maximum"`
	MinLength  *int                 `json:"minLength"`
	MaxLength  *int                 `json:"maxLength"`
	MinItems   *int                 `json:"minItems"`
	MaxItems   *int                 `json:"maxItems"`
	Pattern    string               `json:"pattern"`
	AddlProps  json.RawMessage      `json:"additionalProperties"`
}

// shape is what of a schema the comparison holds to: a nullable $ref
// written as allOf (as OpenAPI 3.0 requires) counts as the $ref.
func (s schemaDoc) shape() string {
	if s.Ref == "" && len(s.AllOf) == 1 {
		s.Ref = s.AllOf[0].Ref
	}
	s.AllOf, s.Properties, s.Required = nil, nil, nil
	b, _ := json.Marshal(s)
	return string(b)
}

var methods = []string{"get", "head", "post", "put", "patch", "delete"}

// addedEnum returns the values ours adds to ref's enum when that is all
// that tells the two schemas apart; nil otherwise.
func addedEnum(ref, ours schemaDoc) []any {
	if len(ref.Enum) == 0 || len(ours.Enum) <= len(ref.Enum) {
		return nil
	}
	var added []any
	for _, v := range ours.Enum {
		if !slices.Contains(ref.Enum, v) {
			added = append(added, v)
		}
	}
	same := ours
	same.Enum = ref.Enum
	if len(added) != len(ours.Enum)-len(ref.Enum) || same.shape() != ref.shape() {
		return nil
	}
	return added
}

// compareDocs lists, in a stable order, every difference of ours from ref
// within what ref describes.
func compareDocs(ref, ours *openAPIDoc) []string {
	var diffs []string
	add := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	for path, refOps := range ref.Paths {
		for _, m := range methods {
			rawRef, ok := refOps[m]
			if !ok {
				continue
			}
			op := strings.ToUpper(m) + " " + path
			rawOurs, ok := ours.Paths[path][m]
			if !ok {
				add("%s: missing", op)
				continue
			}
			var r, o operationDoc
			_ = json.Unmarshal(rawRef, &r)
			_ = json.Unmarshal(rawOurs, &o)
			params := func(d operationDoc) map[string]string {
				ps := map[string]string{}
				for _, p := range d.Parameters {
					ps[p.In+" "+p.Name] = fmt.Sprint(p.Required)
				}
				return ps
			}
			diffSets(params(r), params(o), func(k string, rv, ov *string) {
				switch {
				case ov == nil:
					add("%s: parameter %s missing", op, k)
				case rv == nil:
					add("%s: parameter %s added", op, k)
				default:
					add("%s: parameter %s required %s, reference %s", op, k, *ov, *rv)
				}
			})
			body := func(d operationDoc) string {
				if d.RequestBody == nil {
					return ""
				}
				return d.RequestBody.Content["application/json"].Schema.shape()
			}
			if body(r) != body(o) {
				add("%s: request body %s, reference %s", op, body(o), body(r))
			}
			responses := func(d operationDoc) map[string]string {
				rs := map[string]string{}
				for status, resp := range d.Responses {
					rs[status] = resp.Content["application/json"].Schema.shape()
				}
				return rs
			}
			diffSets(responses(r), responses(o), func(status string, rv, ov *string) {
				switch {
				case ov == nil:
					add("%s: status %s missing", op, status)
				case rv == nil:
					add("%s: status %s added", op, status)
				default:
					add("%s: status %s answers %s, reference %s", op, status, *ov, *rv)
				}
			})
		}
	}
	for name, rs := range ref.Components.Schemas {
		os, ok := ours.Components.Schemas[name]
		if !ok {
			add("schema %s: missing", name)
			continue
		}
		if added := addedEnum(rs, os); len(added) > 0 {
			// Values added to an enum, the rest alike: named, not dumped.
			add("schema %s: enum values %v added", name, added)
		} else if rs.shape() != os.shape() {
			add("schema %s: %s, reference %s", name, os.shape(), rs.shape())
		}
		diffSets(toSet(rs.Required), toSet(os.Required), func(f string, rv, ov *string) {
			if ov == nil {
				add("schema %s: %s not required", name, f)
			} else {
				add("schema %s: %s required", name, f)
			}
		})
		shapes := func(s schemaDoc) map[string]string {
			ps := map[string]string{}
			for k, v := range s.Properties {
				ps[k] = v.shape()
			}
			return ps
		}
		diffSets(shapes(rs), shapes(os), func(f string, rv, ov *string) {
			switch {
			case ov == nil:
				add("schema %s: property %s missing", name, f)
			case rv == nil:
				add("schema %s: property %s added", name, f)
			default:
				add("schema %s: property %s is %s, reference %s", name, f, *ov, *rv)
			}
		})
	}
	sort.Strings(diffs)
	return diffs
}

// diffSets calls f for every key whose value differs between ref and
// ours, with nil for a side that lacks it.
func diffSets(ref, ours map[string]string, f func(key string, refV, oursV *string)) {
	keys := make([]string, 0, len(ref)+len(ours))
	for k := range ref {
		keys = append(keys, k)
	}
	for k := range ours {
		if _, ok := ref[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		rv, rok := ref[k]
		ov, ook := ours[k]
		switch {
		case !rok:
			f(k, nil, &ov)
		case !ook:
			f(k, &rv, nil)
		case !reflect.DeepEqual(rv, ov):
			f(k, &rv, &ov)
		}
	}
}

func toSet(xs []string) map[string]string {
	m := make(map[string]string, len(xs))
	for _, x := range xs {
		m[x] = "required"
	}
	return m
}
