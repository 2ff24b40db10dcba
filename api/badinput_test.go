package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestBadInput sends one bad request per case and checks that it gets its
// 4xx, that a 422 names the offending field, and that nothing was written:
// no application, event type, endpoint, message or delivery appeared and
// none changed.
func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withMaxPayload(2048))
	e.createEventType("order.ready")
	e.createApp("fixture", "fx")
	e.createEndpoint("fx", obj{"uid": "fx-ep", "filterTypes": []string{"order.ready"}})
	msg := str(e.sendMessage("fx", obj{"eventType": "order.ready", "eventId": "fx-msg"}), "id")
	e.deliver(200)
	e.createApp("other", "other")

	const (
		apps = "/api/v1/app"
		ep   = "/api/v1/app/fx/endpoint"
		one  = "/api/v1/app/fx/endpoint/fx-ep"
		msgs = "/api/v1/app/fx/msg"
	)
	goodURL := "https://receiver.example.com/hook"
	long := strings.Repeat("a", 257)
	bigPayload := `{"eventType":"a","payload":{"s":"` + strings.Repeat("x", 2100) + `"}}`

	cases := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		loc    string // for 422: the expected location, joined with "."
	}{
		// Applications.
		{"app without name", "POST", apps, obj{}, 422, "body.name"},
		{"app empty name", "POST", apps, obj{"name": ""}, 422, "body.name"},
		{"app name with control char", "POST", apps, obj{"name": "a\u0001"}, 422, "body.name"},
		{"app bad uid", "POST", apps, obj{"name": "x", "uid": "no spaces"}, 422, "body.uid"},
		{"app uid too long", "POST", apps, obj{"name": "x", "uid": long}, 422, "body.uid"},
		{"app uid shaped like an id", "POST", apps, obj{"name": "x", "uid": "app_123"}, 422, "body.uid"},
		{"app rateLimit 0", "POST", apps, obj{"name": "x", "rateLimit": 0}, 422, "body.rateLimit"},
		{"app throttleRate too big", "POST", apps, obj{"name": "x", "throttleRate": 70000}, 422, "body.throttleRate"},
		{"app name of wrong type", "POST", apps, obj{"name": 5}, 422, "body.name"},
		{"app metadata of wrong type", "POST", apps, obj{"name": "x", "metadata": obj{"a": 1}}, 422, "body.metadata"},
		{"app metadata value with NUL", "POST", apps, obj{"name": "x", "metadata": obj{"a": "b\u0000"}}, 422, "body.metadata.a"},
		{"app PATCH metadata key with NUL", "PATCH", apps + "/fx", obj{"metadata": obj{"a\u0000": "b"}}, 422, "body.metadata.a\u0000"},
		{"app malformed JSON", "POST", apps, `{"name":`, 400, ""},
		{"app name not UTF-8", "POST", apps, "{\"name\":\"\xff\"}", 400, ""},
		{"event type schema key not UTF-8", "PUT", "/api/v1/event-type/order.ready", "{\"description\":\"d\",\"schemas\":{\"1\":{\"\x80\":\"\"}}}", 400, ""},
		{"message payload not UTF-8", "POST", msgs, "{\"eventType\":\"order.ready\",\"payload\":{\"a\":\"\xc3\x28\"}}", 400, ""},
		{"app bad get_if_exists", "POST", apps + "?get_if_exists=maybe", obj{"name": "x"}, 422, "query.get_if_exists"},
		{"app duplicate uid", "POST", apps, obj{"name": "x", "uid": "fx"}, 409, ""},
		{"app PUT without name", "PUT", apps + "/fx", obj{"uid": "fx"}, 422, "body.name"},
		{"app PUT new with bad uid", "PUT", apps + "/new-app", obj{"name": "x", "uid": "bad uid"}, 422, "body.uid"},
		{"app PATCH null name", "PATCH", apps + "/fx", obj{"name": nil}, 422, "body.name"},
		{"app PATCH empty name", "PATCH", apps + "/fx", obj{"name": ""}, 422, "body.name"},
		{"app PATCH bad rate", "PATCH", apps + "/fx", obj{"rateLimit": -1}, 422, "body.rateLimit"},
		{"app PATCH uid taken", "PATCH", apps + "/fx", obj{"uid": "other"}, 409, ""},
		{"app PATCH null metadata", "PATCH", apps + "/fx", obj{"metadata": nil}, 422, "body.metadata"},
		{"app unknown", "GET", apps + "/nope", nil, 404, ""},
		{"app id with NUL", "GET", apps + "/fx%00", nil, 404, ""},
		{"app id not UTF-8", "PATCH", apps + "/%FF", obj{"name": "x"}, 404, ""},

		// Lists.
		{"limit 0", "GET", apps + "?limit=0", nil, 422, "query.limit"},
		{"limit 251", "GET", apps + "?limit=251", nil, 422, "query.limit"},
		{"limit not a number", "GET", apps + "?limit=ten", nil, 422, "query.limit"},
		{"bad iterator", "GET", apps + "?iterator=msg_01HZZZZZZZZZZZZZZZZZZZZZZZ", nil, 422, "query.iterator"},
		{"bad order", "GET", apps + "?order=sideways", nil, 422, "query.order"},
		{"bad before", "GET", msgs + "?before=yesterday", nil, 422, "query.before"},
		{"bad after", "GET", msgs + "?after=2024-13-01", nil, 422, "query.after"},
		{"bad event_types", "GET", msgs + "?event_types=ok,not%20ok", nil, 422, "query.event_types"},
		{"bad channel", "GET", msgs + "?channel=a%20b", nil, 422, "query.channel"},
		{"bad with_content", "GET", msgs + "?with_content=perhaps", nil, 422, "query.with_content"},
		{"bad attempt status", "GET", "/api/v1/app/fx/attempt/msg/fx-msg?status=7", nil, 422, "query.status"},
		{"attempts endpoint_id with NUL", "GET", "/api/v1/app/fx/attempt/msg/fx-msg?endpoint_id=fx-ep%00", nil, 422, "query.endpoint_id"},
		{"bad status_code_class", "GET", "/api/v1/app/fx/attempt/endpoint/fx-ep?status_code_class=250", nil, 422, "query.status_code_class"},
		{"bad message iterator", "GET", msgs + "?iterator=app_01HZZZZZZZZZZZZZZZZZZZZZZZ", nil, 422, "query.iterator"},
		{"bad event type iterator", "GET", "/api/v1/event-type?iterator=a%20b", nil, 422, "query.iterator"},

		// Endpoints.
		{"endpoint without url", "POST", ep, obj{}, 422, "body.url"},
		{"endpoint loopback url", "POST", ep, obj{"url": "http://127.0.0.1:8080/hook"}, 422, "body.url"},
		{"endpoint localhost url", "POST", ep, obj{"url": "http://localhost/hook"}, 422, "body.url"},
		{"endpoint metadata with NUL", "POST", ep, obj{"url": "https://example.com/", "metadata": obj{"k": "\u0000"}}, 422, "body.metadata.k"},
		{"endpoint metadata address", "POST", ep, obj{"url": "http://169.254.169.254/latest"}, 422, "body.url"},
		{"endpoint private url", "POST", ep, obj{"url": "https://10.1.2.3/"}, 422, "body.url"},
		{"endpoint ftp url", "POST", ep, obj{"url": "ftp://example.com/"}, 422, "body.url"},
		{"endpoint relative url", "POST", ep, obj{"url": "/just/a/path"}, 422, "body.url"},
		{"endpoint url with credentials", "POST", ep, obj{"url": "https://u:p@example.com/"}, 422, "body.url"},
		{"endpoint short secret", "POST", ep, obj{"url": goodURL, "secret": "whsec_c2hvcnQ="}, 422, "body.secret"},
		{"endpoint secret bad chars", "POST", ep, obj{"url": goodURL, "secret": "whsec_" + strings.Repeat("*", 40)}, 422, "body.secret"},
		{"endpoint secret too many bytes", "POST", ep, obj{"url": goodURL, "secret": strings.Repeat("QUJD", 23)}, 422, "body.secret"},
		{"endpoint secret not base64", "POST", ep, obj{"url": goodURL, "secret": strings.Repeat("A", 33)}, 422, "body.secret"},
		{"endpoint unknown event type", "POST", ep, obj{"url": goodURL, "filterTypes": []string{"no.such"}}, 422, "body.filterTypes"},
		{"endpoint unknown event type (alias)", "POST", ep, obj{"url": goodURL, "eventTypes": []string{"no.such"}}, 422, "body.eventTypes"},
		{"endpoint empty filter", "POST", ep, obj{"url": goodURL, "filterTypes": []string{}}, 422, "body.filterTypes"},
		{"endpoint bad event type name", "POST", ep, obj{"url": goodURL, "filterTypes": []string{"a b"}}, 422, "body.filterTypes"},
		{"endpoint 11 channels", "POST", ep, obj{"url": goodURL, "channels": []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"}}, 422, "body.channels"},
		{"endpoint bad channel", "POST", ep, obj{"url": goodURL, "channels": []string{"a/b"}}, 422, "body.channels"},
		{"endpoint long channel", "POST", ep, obj{"url": goodURL, "channels": []string{strings.Repeat("c", 129)}}, 422, "body.channels"},
		{"endpoint rateLimit 0", "POST", ep, obj{"url": goodURL, "rateLimit": 0}, 422, "body.rateLimit"},
		{"endpoint throttleRate 0", "POST", ep, obj{"url": goodURL, "throttleRate": 0}, 422, "body.throttleRate"},
		{"endpoint uid like an id", "POST", ep, obj{"url": goodURL, "uid": "ep_x"}, 422, "body.uid"},
		{"endpoint uid taken", "POST", ep, obj{"url": goodURL, "uid": "fx-ep"}, 409, ""},
		{"endpoint version 0", "POST", ep, obj{"url": goodURL, "version": 0}, 422, "body.version"},
		{"endpoint forbidden header", "POST", ep, obj{"url": goodURL, "headers": obj{"Host": "evil"}}, 422, "body.headers.Host"},
		{"endpoint of unknown app", "POST", "/api/v1/app/nope/endpoint", obj{"url": goodURL}, 404, ""},
		{"endpoint PUT bad url", "PUT", one, obj{"url": "http://[::1]/"}, 422, "body.url"},
		{"endpoint PUT new with bad uid", "PUT", ep + "/new-ep", obj{"url": goodURL, "uid": "a b"}, 422, "body.uid"},
		{"endpoint PATCH null url", "PATCH", one, obj{"url": nil}, 422, "body.url"},
		{"endpoint PATCH bad url", "PATCH", one, obj{"url": "http://192.168.1.1/"}, 422, "body.url"},
		{"endpoint PATCH empty channels", "PATCH", one, obj{"channels": []string{}}, 422, "body.channels"},
		{"endpoint PATCH unknown type", "PATCH", one, obj{"eventTypes": []string{"no.such"}}, 422, "body.eventTypes"},
		{"endpoint PATCH bad secret", "PATCH", one, obj{"secret": "nope"}, 422, "body.secret"},
		{"endpoint PATCH null disabled", "PATCH", one, obj{"disabled": nil}, 422, "body.disabled"},
		{"endpoint unknown", "GET", ep + "/nope", nil, 404, ""},

		// Endpoint operations.
		{"rotate negative grace", "POST", one + "/secret/rotate", obj{"gracePeriodSeconds": -1}, 422, "body.gracePeriodSeconds"},
		{"rotate grace over 7 days", "POST", one + "/secret/rotate", obj{"gracePeriodSeconds": 604801}, 422, "body.gracePeriodSeconds"},
		{"rotate bad key", "POST", one + "/secret/rotate", obj{"key": "whsec_tooshort"}, 422, "body.key"},
		{"headers PUT without headers", "PUT", one + "/headers", obj{}, 422, "body.headers"},
		{"headers PUT webhook-id", "PUT", one + "/headers", obj{"headers": obj{"webhook-id": "x"}}, 422, "body.headers.webhook-id"},
		{"headers PUT svix prefix", "PUT", one + "/headers", obj{"headers": obj{"Svix-Signature": "x"}}, 422, "body.headers.Svix-Signature"},
		{"headers PUT content-length", "PUT", one + "/headers", obj{"headers": obj{"Content-Length": "1"}}, 422, "body.headers.Content-Length"},
		{"headers PUT bad name", "PUT", one + "/headers", obj{"headers": obj{"a b": "1"}}, 422, "body.headers.a b"},
		{"headers PUT value with newline", "PUT", one + "/headers", obj{"headers": obj{"X-A": "1\r\nX-B: 2"}}, 422, "body.headers.X-A"},
		{"headers PUT same name twice", "PUT", one + "/headers", obj{"headers": obj{"X-A": "1", "x-a": "2"}}, 422, "body.headers.x-a"},
		{"headers PATCH bad name", "PATCH", one + "/headers", obj{"headers": obj{"bad name": nil}}, 422, "body.headers.bad name"},
		{"headers PATCH forbidden", "PATCH", one + "/headers", obj{"headers": obj{"Webhook-Signature": "v1,x"}}, 422, "body.headers.Webhook-Signature"},
		{"recover without since", "POST", one + "/recover", obj{}, 422, "body.since"},
		{"recover bad since", "POST", one + "/recover", obj{"since": "last week"}, 422, "body.since"},
		{"recover since after until", "POST", one + "/recover", obj{"since": "2024-02-01T00:00:00Z", "until": "2024-01-01T00:00:00Z"}, 422, "body.since"},
		{"recover bad until", "POST", one + "/recover", obj{"since": "2024-02-01T00:00:00Z", "until": 5}, 422, "body.until"},
		{"replay-missing without since", "POST", one + "/replay-missing", obj{}, 422, "body.since"},
		{"replay-missing since after until", "POST", one + "/replay-missing", obj{"since": "2024-02-01T00:00:00Z", "until": "2024-01-01T00:00:00Z"}, 422, "body.since"},
		{"bulk-replay without since", "POST", one + "/bulk-replay", obj{"eventTypes": []string{"a"}}, 422, "body.since"},
		{"bulk-replay bad status", "POST", one + "/bulk-replay", obj{"since": "2024-02-01T00:00:00Z", "status": 7}, 422, "body.status"},
		{"bulk-replay empty event types", "POST", one + "/bulk-replay", obj{"since": "2024-02-01T00:00:00Z", "eventTypes": []string{}}, 422, "body.eventTypes"},
		{"bulk-replay tag", "POST", one + "/bulk-replay", obj{"since": "2024-02-01T00:00:00Z", "tag": "x"}, 422, "body.tag"},
		{"bulk-replay status code class", "POST", one + "/bulk-replay", obj{"since": "2024-02-01T00:00:00Z", "statusCodeClass": 500}, 422, "body.statusCodeClass"},
		{"stats bad since", "GET", one + "/stats?since=soon", nil, 422, "query.since"},
		{"stats since after until", "GET", one + "/stats?since=2024-02-01T00:00:00Z&until=2024-01-01T00:00:00Z", nil, 422, "query.since"},
		{"send-example without type", "POST", one + "/send-example", obj{}, 422, "body.eventType"},
		{"send-example bad type", "POST", one + "/send-example", obj{"eventType": "a b"}, 422, "body.eventType"},
		{"send-example unknown type", "POST", one + "/send-example", obj{"eventType": "no.such"}, 404, ""},
		{"send-example negative index", "POST", one + "/send-example", obj{"eventType": "order.ready", "exampleIndex": -1}, 422, "body.exampleIndex"},
		{"send-example index beyond examples", "POST", one + "/send-example", obj{"eventType": "order.ready", "exampleIndex": 1}, 422, "body.exampleIndex"},

		// Messages.
		{"message without eventType", "POST", msgs, obj{"payload": obj{}}, 422, "body.eventType"},
		{"message bad eventType", "POST", msgs, obj{"eventType": "a b", "payload": obj{}}, 422, "body.eventType"},
		{"message long eventType", "POST", msgs, obj{"eventType": long, "payload": obj{}}, 422, "body.eventType"},
		{"message without payload", "POST", msgs, obj{"eventType": "a"}, 422, "body.payload"},
		{"message array payload", "POST", msgs, obj{"eventType": "a", "payload": []int{1}}, 422, "body.payload"},
		{"message string payload", "POST", msgs, obj{"eventType": "a", "payload": "hi"}, 422, "body.payload"},
		{"message null payload", "POST", msgs, obj{"eventType": "a", "payload": nil}, 422, "body.payload"},
		{"message array data", "POST", msgs, obj{"eventType": "a", "data": []int{1}}, 422, "body.data"},
		{"message bad eventId", "POST", msgs, obj{"eventType": "a", "payload": obj{}, "eventId": "a b"}, 422, "body.eventId"},
		{"message 6 channels", "POST", msgs, obj{"eventType": "a", "payload": obj{}, "channels": []string{"1", "2", "3", "4", "5", "6"}}, 422, "body.channels"},
		{"message empty channels", "POST", msgs, obj{"eventType": "a", "payload": obj{}, "channels": []string{}}, 422, "body.channels"},
		{"message bad channel", "POST", msgs, obj{"eventType": "a", "payload": obj{}, "channels": []string{"#x"}}, 422, "body.channels"},
		{"message payload too large", "POST", msgs, bigPayload, 413, ""},
		{"message body too large", "POST", msgs, `{"eventType":"a","payload":{"s":"` + strings.Repeat("x", 80<<10) + `"}}`, 413, ""},
		{"message to unknown app", "POST", "/api/v1/app/nope/msg", obj{"eventType": "a", "payload": obj{}}, 404, ""},
		{"message with bad application", "POST", "/api/v1/app/nope/msg", obj{"eventType": "a", "payload": obj{}, "application": obj{"name": ""}}, 422, "body.application.name"},
		{"message with application, id-shaped path", "POST", "/api/v1/app/app_01HZZZZZZZZZZZZZZZZZZZZZZZ/msg", obj{"eventType": "a", "payload": obj{}, "application": obj{"name": "x"}}, 404, ""},
		{"message bad with_content", "POST", msgs + "?with_content=sometimes", obj{"eventType": "a", "payload": obj{}}, 422, "query.with_content"},
		{"message unknown", "GET", msgs + "/nope", nil, 404, ""},
		{"resend to unknown endpoint", "POST", msgs + "/" + msg + "/endpoint/nope/resend", nil, 404, ""},
		{"resend unknown message", "POST", msgs + "/nope/endpoint/fx-ep/resend", nil, 404, ""},
		{"expunge unknown message", "DELETE", msgs + "/nope/content", nil, 404, ""},

		// Event types.
		{"event type without name", "POST", "/api/v1/event-type", obj{"description": "x"}, 422, "body.name"},
		{"event type bad name", "POST", "/api/v1/event-type", obj{"name": "a b", "description": "x"}, 422, "body.name"},
		{"event type without description", "POST", "/api/v1/event-type", obj{"name": "a.b"}, 422, "body.description"},
		{"event type schemas not an object", "POST", "/api/v1/event-type", obj{"name": "a.b", "description": "x", "schemas": "s"}, 422, "body.schemas"},
		{"event type schema not an object", "POST", "/api/v1/event-type", obj{"name": "a.b", "description": "x", "schemas": obj{"1": 5}}, 422, "body.schemas.1"},
		{"event type bad feature flag", "POST", "/api/v1/event-type", obj{"name": "a.b", "description": "x", "featureFlag": "a b"}, 422, "body.featureFlag"},
		{"event type exists", "POST", "/api/v1/event-type", obj{"name": "order.ready", "description": "x"}, 409, ""},
		{"event type PUT bad path", "PUT", "/api/v1/event-type/a%20b", obj{"description": "x"}, 422, "path.event_type_name"},
		{"event type PUT without description", "PUT", "/api/v1/event-type/new.type", obj{}, 422, "body.description"},
		{"event type PATCH null description", "PATCH", "/api/v1/event-type/order.ready", obj{"description": nil}, 422, "body.description"},
		{"event type schema with NUL", "POST", "/api/v1/event-type", obj{"name": "a.b", "description": "x", "schemas": obj{"1": obj{"title": "a\u0000"}}}, 422, "body.schemas"},
		{"event type PATCH bad schemas", "PATCH", "/api/v1/event-type/order.ready", obj{"schemas": []int{1}}, 422, "body.schemas"},
		{"event type DELETE bad expunge", "DELETE", "/api/v1/event-type/order.ready?expunge=soon", nil, 422, "query.expunge"},
		{"event type unknown", "PATCH", "/api/v1/event-type/no.such", obj{"deprecated": true}, 404, ""},
	}

	before := e.snapshot()
	for _, c := range cases {
		r := e.do(c.method, c.path, c.body)
		if r.Status != c.status {
			t.Errorf("%s: status %d, want %d; body %s", c.name, r.Status, c.status, r.Body)
			continue
		}
		if c.status == http.StatusUnprocessableEntity {
			if locs := validationLocs(t, r); !slices.Contains(locs, c.loc) {
				t.Errorf("%s: 422 names %v, want %s", c.name, locs, c.loc)
			}
		} else if body := r.object(); str(body, "code") == "" || str(body, "detail") == "" {
			t.Errorf("%s: error body %s, want code and detail", c.name, r.Body)
		}
		if after := e.snapshot(); after != before {
			t.Fatalf("%s: the store changed:\nbefore %s\nafter  %s", c.name, before, after)
		}
	}
}

// snapshot renders everything the bad-input cases could touch: every
// application, event type, endpoint (with its headers and secret) and
// message of the fixture, and whether any delivery is outstanding.
func (e *env) snapshot() string {
	e.t.Helper()
	var b strings.Builder
	for _, path := range []string{
		"/api/v1/app?limit=250",
		"/api/v1/event-type?include_archived=true&with_content=true&limit=250",
		"/api/v1/app/fx/endpoint?limit=250",
		"/api/v1/app/fx/endpoint/fx-ep/headers",
		"/api/v1/app/fx/endpoint/fx-ep/secret",
		"/api/v1/app/fx/msg?limit=250",
		"/api/v1/app/fx/msg/fx-msg/endpoint",
		"/api/v1/app/other/endpoint",
		"/api/v1/app/other/msg",
	} {
		b.Write(e.do("GET", path, nil).want(http.StatusOK).Body)
		b.WriteByte('\n')
	}
	_, due, err := e.store.NextDue(context.Background())
	if err != nil {
		e.t.Fatalf("next due: %v", err)
	}
	if due {
		b.WriteString("a delivery is outstanding\n")
	}
	return b.String()
}
