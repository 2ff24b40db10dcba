package dispatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/dispatch"
	"github.com/hookbridge/hookbridge/dispatch/brokertest"
	"github.com/hookbridge/hookbridge/netguard"
	"github.com/hookbridge/hookbridge/tracing"
	"github.com/hookbridge/hookbridge/tracing/otlptest"
	"github.com/hookbridge/hookbridge/webhook"
)

// The broker transports, each tried against a real broker (RabbitMQ, NATS
// JetStream and Redis on this machine, brokertest's variables; Kafka in
// process, franz-go's kfake): one suite run against every broker, as the
// store suite is run against every store.

// TestMain keeps the Redis client's process-wide log (a line per failed
// dial, which each try's attempt says already) out of the test output.
func TestMain(m *testing.M) {
	dispatch.LogClientsTo(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

// brokerTimeout is the request timeout of the broker tests: a Kafka try to
// a port nobody listens on lasts that long (the client dials again until
// it runs out).
const brokerTimeout = 3 * time.Second

// broker is one broker under test, with a destination of the test's own,
// reached through an address the test can take away (down) and give back
// (up).
type broker struct {
	url     string // the endpoint URL
	addr    string // its host:port
	read    func(testing.TB) []brokertest.Arrived
	down    func()
	up      func()
	headers bool // the endpoint's own headers travel too (not in a Redis entry)
	// accepted counts the connections made to the broker through the
	// test's address; nil where it cannot be counted (Kafka).
	accepted func() int
	open     func() int
}

// brokers are the brokers the suite runs against. reachable says whether
// the broker's address takes connections at first.
var brokers = []struct {
	name  string
	setup func(t *testing.T, reachable bool) *broker
}{
	{"amqp", func(t *testing.T, reachable bool) *broker {
		a := brokertest.NewAMQP(t)
		r := relay(t, a.Addr(), reachable)
		return &broker{url: a.URL(r.Addr()), addr: r.Addr(), read: a.Read, down: r.Cut, up: r.Restore, headers: true, accepted: r.Accepted, open: r.Open}
	}},
	{"nats", func(t *testing.T, reachable bool) *broker {
		n := brokertest.NewNATS(t)
		r := relay(t, n.Addr(), reachable)
		return &broker{url: n.URL(r.Addr()), addr: r.Addr(), read: n.Read, down: r.Cut, up: r.Restore, headers: true, accepted: r.Accepted, open: r.Open}
	}},
	{"redis", func(t *testing.T, reachable bool) *broker {
		rd := brokertest.NewRedis(t)
		r := relay(t, rd.Addr(), reachable)
		return &broker{url: rd.URL(r.Addr(), ""), addr: r.Addr(), read: rd.Read, down: r.Cut, up: r.Restore, accepted: r.Accepted, open: r.Open}
	}},
	{"kafka", func(t *testing.T, reachable bool) *broker {
		k := brokertest.StoppedKafka(t)
		if reachable {
			k.Start(t)
		}
		return &broker{url: k.URL(""), addr: k.Addr(), read: k.Read, down: k.Stop, up: func() { k.Start(t) }, headers: true}
	}},
}

func relay(t *testing.T, addr string, reachable bool) *brokertest.Relay {
	if reachable {
		return brokertest.NewRelay(t, addr)
	}
	return brokertest.ClosedRelay(t, addr)
}

// startBroker runs a dispatcher for broker tests.
func (e *env) startBroker(cfg dispatch.Config) (*dispatch.Dispatcher, func() error) {
	cfg.RequestTimeout = brokerTimeout
	cfg.Lease = 4 * brokerTimeout
	return e.start(cfg)
}

// tenant gives an endpoint a header of its own, X-Tenant: 42.
func tenant(ep *hookbridge.Endpoint) { ep.Headers = map[string]string{"X-Tenant": "42"} }

// checkArrived checks that what a consumer read is the message, signed
// with secret (webhook's verifier on the headers, or the entry's fields)
// at now, and that the endpoint's header X-Tenant came with it.
func checkArrived(t *testing.T, b *broker, got brokertest.Arrived, msg *hookbridge.Message, secret string, now time.Time) {
	t.Helper()
	if string(got.Body) != string(msg.Payload) {
		t.Errorf("body %q, want the payload as stored %q", got.Body, msg.Payload)
	}
	if id := got.Header.Get("webhook-id"); id != msg.ID {
		t.Errorf("webhook-id %q, want %q", id, msg.ID)
	}
	for _, k := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		if _, ok := got.Raw[k]; !ok {
			t.Errorf("no %s under that name: %v", k, got.Raw)
		}
	}
	v, err := webhook.NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.VerifyAt(now, got.Body, got.Header); err != nil {
		t.Errorf("signature does not verify: %v (headers %v)", err, got.Raw)
	}
	if b.headers && got.Raw["x-tenant"] != "42" {
		t.Errorf("the endpoint's header X-Tenant did not travel: %v", got.Raw)
	}
}

func TestBrokersDeliverSigned(t *testing.T) {
	t.Parallel()
	for _, bc := range brokers {
		t.Run(bc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			b := bc.setup(t, true)
			ep, secret := e.endpoint(b.url, func(ep *hookbridge.Endpoint) {
				ep.Headers = map[string]string{"X-Tenant": "42", "webhook-signature": "v1,forged"}
			})
			msg := e.publish(`{"order":"o_1","amount":1250,"currency":"EUR"}`)
			e.startBroker(dispatch.Config{})

			e.waitStatus(msg.ID, ep.ID, hookbridge.StatusSuccess)
			a := e.waitAttempts(msg.ID, 1)[0]
			if a.Status != hookbridge.StatusSuccess || a.StatusCode != 0 || a.Response == "" {
				t.Errorf("attempt %+v, want a success with status code 0 and the broker's answer", a)
			}
			if want := hookbridge.MaskURL(b.url); a.URL != want {
				t.Errorf("attempt URL %q, want the endpoint URL with its password masked, %q", a.URL, want)
			}
			got := b.read(t)
			if len(got) != 1 {
				t.Fatalf("the broker holds %d messages, want 1: %+v", len(got), got)
			}
			checkArrived(t, b, got[0], msg, secret, e.clock.Now())
			t.Logf("attempt: %q", a.Response)
		})
	}
}

// TestBrokersOutage: a broker that cannot be reached gets failed attempts
// that say why, is tried again on the retry schedule, and gets each
// message once when it is back: first a broker that is down from the
// start (nothing listens on its port), then one that goes away after the
// dispatcher has connected (every connection dropped).
func TestBrokersOutage(t *testing.T) {
	t.Parallel()
	for _, bc := range brokers {
		t.Run(bc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			b := bc.setup(t, false)
			ep, secret := e.endpoint(b.url, tenant)
			first := e.publish(`{"n":1}`)
			d, _ := e.startBroker(dispatch.Config{})

			// Down from the start: two failed attempts, then back.
			e.waitAttempts(first.ID, 1)
			e.clock.Advance(10 * time.Minute)
			d.Wake()
			fails := e.waitAttempts(first.ID, 2)
			for _, a := range fails {
				if a.Status != hookbridge.StatusFail || !strings.Contains(a.Response, b.addr) {
					t.Errorf("attempt while down: %+v, want a failure naming the URL's host and port", a)
				}
			}
			t.Logf("down: %q", fails[0].Response)
			b.up()
			e.clock.Advance(time.Hour)
			d.Wake()
			e.waitStatus(first.ID, ep.ID, hookbridge.StatusSuccess)
			firstAt := e.clock.Now()

			// Going away once connected.
			b.down()
			second := e.publish(`{"n":2}`)
			d.Wake()
			e.waitAttempts(second.ID, 1)
			if me := e.state(second.ID, ep.ID); me.Status != hookbridge.StatusSending {
				t.Errorf("second message while down: %s, want a retry scheduled", me.Status)
			}
			b.up()
			e.clock.Advance(10 * time.Minute)
			d.Wake()
			e.waitStatus(second.ID, ep.ID, hookbridge.StatusSuccess)

			got := b.read(t)
			if len(got) != 2 {
				t.Fatalf("the broker holds %d messages, want each of the 2 once: %+v", len(got), got)
			}
			checkArrived(t, b, got[0], first, secret, firstAt)
			checkArrived(t, b, got[1], second, secret, e.clock.Now())
		})
	}
}

// TestBrokersGuarded: the SSRF guard applies to broker connections: without
// 127.0.0.1 allow-listed, a broker URL naming it, or a name resolving to
// it, is refused without a connection.
func TestBrokersGuarded(t *testing.T) {
	t.Parallel()
	for _, bc := range brokers {
		t.Run(bc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			b := bc.setup(t, true)
			literal, _ := e.endpoint(b.url)
			named, _ := e.endpoint(strings.Replace(b.url, "127.0.0.1", "localhost", 1))
			msg := e.publish(`{}`)
			e.startBroker(dispatch.Config{Guard: netguard.New()})

			for _, ep := range []*hookbridge.Endpoint{literal, named} {
				e.waitStatus(msg.ID, ep.ID, hookbridge.StatusSending)
			}
			for _, a := range e.waitAttempts(msg.ID, 2) {
				if !strings.HasPrefix(a.Response, "refused: ") || !strings.Contains(a.Response, "not allowed") {
					t.Errorf("attempt to %s: %q, want refused: … not allowed", a.URL, a.Response)
				}
			}
			if b.accepted != nil && b.accepted() != 0 {
				t.Errorf("%d connections reached the broker", b.accepted())
			}
			if got := b.read(t); len(got) != 0 {
				t.Errorf("the broker holds %d messages", len(got))
			}
		})
	}
}

// TestBrokersHTTPSOnly: with --https-only a broker's plain-text scheme is
// refused unsent, as http is, and its TLS scheme is tried (here it fails
// the handshake: the test brokers speak plain text).
func TestBrokersHTTPSOnly(t *testing.T) {
	t.Parallel()
	secure := map[string]string{"amqp": "amqps", "nats": "tls", "redis": "rediss", "kafka": "kafkas"}
	for _, bc := range brokers {
		t.Run(bc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			b := bc.setup(t, true)
			plain, _ := e.endpoint(b.url)
			var tls *hookbridge.Endpoint
			if s, ok := secure[bc.name]; ok {
				tls, _ = e.endpoint(s + strings.TrimPrefix(b.url, bc.name))
			}
			msg := e.publish(`{}`)
			e.startBroker(dispatch.Config{Guard: netguard.New(netip.MustParsePrefix("127.0.0.1/32")).HTTPSOnly()})

			e.waitStatus(msg.ID, plain.ID, hookbridge.StatusSending)
			n := 1
			if tls != nil {
				e.waitStatus(msg.ID, tls.ID, hookbridge.StatusSending)
				n = 2
			}
			for _, a := range e.waitAttempts(msg.ID, n) {
				refused := strings.Contains(a.Response, "only https URLs")
				if want := a.EndpointID == plain.ID; refused != want {
					t.Errorf("attempt to %s: %q; refused for its scheme: %v, want %v", a.URL, a.Response, refused, want)
				}
				t.Logf("%s: %q", a.URL, a.Response)
			}
			if got := b.read(t); len(got) != 0 {
				t.Errorf("the broker holds %d messages", len(got))
			}
		})
	}
}

// TestBrokerConnectionsPooled: the deliveries to one broker share one
// connection, kept between tries, and the dispatcher closes it when it
// stops.
func TestBrokerConnectionsPooled(t *testing.T) {
	t.Parallel()
	for _, bc := range brokers {
		t.Run(bc.name, func(t *testing.T) {
			t.Parallel()
			if bc.name == "kafka" {
				t.Skip("the Kafka client's connections are not counted here: it dials the brokers the cluster's metadata names")
			}
			e := newEnv(t)
			b := bc.setup(t, true)
			ep, _ := e.endpoint(b.url)
			e.publishBatch(40)
			d, stop := e.startBroker(dispatch.Config{Workers: 8})
			waitFor(t, "40 deliveries", func() bool { return len(b.read(t)) == 40 })
			one := e.publish(`{"later":true}`)
			d.Wake()
			e.waitStatus(one.ID, ep.ID, hookbridge.StatusSuccess)
			if n := b.accepted(); n < 1 || (bc.name != "redis" && n != 1) || n > 8 {
				t.Errorf("%d connections for 41 deliveries, want 1 (Redis: at most one per worker)", n)
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the connections to be closed", func() bool { return b.open() == 0 })
		})
	}
}

// TestBrokerRefusals: what a broker refuses is a failed attempt that says
// what the broker said, retried like any failure.
func TestBrokerRefusals(t *testing.T) {
	t.Parallel()
	a := brokertest.NewAMQP(t)
	n := brokertest.NewNATS(t)
	r := brokertest.NewRedis(t)
	k := brokertest.NewKafka(t)
	if err := r.Client().Set(t.Context(), r.Key, "not a stream", 0).Err(); err != nil {
		t.Fatal(err)
	}
	noQueue := strings.Replace(a.URL(a.Addr()), "routingKey="+a.Queue, "routingKey=nowhere", 1)
	noExchange := strings.Replace(a.URL(a.Addr()), "exchange="+a.Exchange, "exchange="+a.Exchange+"_missing", 1)
	wrongPassword := strings.Replace(a.URL(a.Addr()), a.Server.User.String()+"@", "guest:wrong@", 1)
	cases := []struct{ url, want string }{
		{noQueue, "could not route the message to any queue: 312 NO_ROUTE"},
		{noExchange, "404 NOT_FOUND - no exchange"},
		{wrongPassword, "the broker refused"},
		{"nats://" + n.Addr() + "/hbtest.nostream." + n.Stream, "no JetStream stream takes subject"},
		{r.URL(r.Addr(), ""), "Redis refused: WRONGTYPE"},
		{strings.Replace(k.URL(""), k.Topic, k.Topic+"_missing", 1), "has no topic " + k.Topic + "_missing"},
	}
	e := newEnv(t)
	ids := map[string]string{}
	for _, c := range cases {
		ep, _ := e.endpoint(c.url)
		ids[ep.ID] = c.want
	}
	msg := e.publish(`{}`)
	e.startBroker(dispatch.Config{})
	for _, at := range e.waitAttempts(msg.ID, len(cases)) {
		want := ids[at.EndpointID]
		if at.Status != hookbridge.StatusFail || !strings.Contains(at.Response, want) {
			t.Errorf("attempt to %s: %q, want a failure saying %q", at.URL, at.Response, want)
		}
		if strings.Contains(at.Response+at.URL, "guest:wrong") || strings.Contains(at.Response+at.URL, "guest:guest") {
			t.Errorf("attempt %q to %s shows a password", at.Response, at.URL)
		}
		if me := e.state(msg.ID, at.EndpointID); me.Status != hookbridge.StatusSending {
			t.Errorf("%s: %s, want a retry scheduled", at.URL, me.Status)
		}
	}
	if got := a.Read(t); len(got) != 0 {
		t.Errorf("RabbitMQ queue holds %d messages", len(got))
	}
}

// TestNATSDuplicateDropped: a try of a message the stream already holds
// (an earlier try got through, its acknowledgement lost) succeeds without
// a second copy: Nats-Msg-Id is the message id.
func TestNATSDuplicateDropped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	n := brokertest.NewNATS(t)
	ep, _ := e.endpoint(n.URL(n.Addr()))
	msg := e.publish(`{"n":1}`)
	n.Publish(t, msg.ID, msg.Payload)
	e.startBroker(dispatch.Config{})
	e.waitStatus(msg.ID, ep.ID, hookbridge.StatusSuccess)
	if a := e.waitAttempts(msg.ID, 1)[0]; !strings.Contains(a.Response, "duplicate") {
		t.Errorf("attempt %q, want it to say the stream dropped a duplicate", a.Response)
	}
	got := n.Read(t)
	if len(got) != 1 || got[0].Raw["Nats-Msg-Id"] != msg.ID {
		t.Errorf("the stream holds %+v, want one message with Nats-Msg-Id %s", got, msg.ID)
	}
}

// TestAMQPMessageProperties: a RabbitMQ message is persistent, JSON, and
// has the message id as its message-id.
func TestAMQPMessageProperties(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := brokertest.NewAMQP(t)
	ep, _ := e.endpoint(a.URL(a.Addr()))
	msg := e.publish(`{}`)
	e.startBroker(dispatch.Config{})
	e.waitStatus(msg.ID, ep.ID, hookbridge.StatusSuccess)
	got := a.Read(t)
	if len(got) != 1 {
		t.Fatalf("%d messages", len(got))
	}
	if p := got[0].Raw; p["delivery-mode"] != "2" || p["content-type"] != "application/json" || p["message-id"] != msg.ID {
		t.Errorf("properties %v, want delivery mode 2 (persistent), application/json, message-id %s", p, msg.ID)
	}
}

// TestKafkaRecordKey: a Kafka record's key is the message id, or the
// payload field the URL names.
func TestKafkaRecordKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k := brokertest.NewKafka(t)
	byID, _ := e.endpoint(k.URL(""))
	byField, _ := e.endpoint(k.URL("?key=order"))
	msg := e.publish(`{"order":"o_77","amount":1}`)
	noField := e.publish(`{"amount":2}`)
	e.startBroker(dispatch.Config{})
	for _, m := range []*hookbridge.Message{msg, noField} {
		e.waitStatus(m.ID, byID.ID, hookbridge.StatusSuccess)
		e.waitStatus(m.ID, byField.ID, hookbridge.StatusSuccess)
	}
	keys := map[string]int{}
	for _, r := range k.Read(t) {
		keys[r.Key]++
	}
	want := map[string]int{msg.ID: 1, "o_77": 1, noField.ID: 2}
	if fmt.Sprint(keys) != fmt.Sprint(want) {
		t.Errorf("record keys %v, want %v (by id; by field, the id where the payload has none)", keys, want)
	}
}

// TestRedisStreamMaxLen: ?maxlen=N trims the stream (MAXLEN ~ N: Redis
// trims whole nodes of 100 entries, so it keeps at least N and fewer than
// N+100).
func TestRedisStreamMaxLen(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := brokertest.NewRedis(t)
	ep, _ := e.endpoint(r.URL(r.Addr(), "&maxlen=10"))
	e.publishBatch(250)
	e.startBroker(dispatch.Config{})
	waitFor(t, "250 deliveries", func() bool {
		page, err := e.store.ListAttempts(context.Background(), e.app.ID, hookbridge.AttemptFilter{
			ListOptions: hookbridge.ListOptions{Limit: hookbridge.MaxListLimit}, EndpointID: ep.ID})
		return err == nil && len(page.Data) == hookbridge.MaxListLimit
	})
	waitFor(t, "the stream to be trimmed", func() bool {
		n := len(r.Read(t))
		return n >= 10 && n < 110
	})
}

// TestBrokersRefusedThroughProxy: with an egress proxy, which carries
// HTTP, broker endpoints are refused unsent.
func TestBrokersRefusedThroughProxy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := brokertest.NewAMQP(t)
	r := brokertest.NewRelay(t, a.Addr())
	e.endpoint(a.URL(r.Addr()))
	msg := e.publish(`{}`)
	proxy, _ := url.Parse("http://127.0.0.1:1")
	e.startBroker(dispatch.Config{Proxy: proxy})
	if at := e.waitAttempts(msg.ID, 1)[0]; !strings.Contains(at.Response, "egress proxy") || at.StatusCode != 0 {
		t.Errorf("attempt %q, want it refused for the proxy", at.Response)
	}
	if r.Accepted() != 0 {
		t.Error("the broker was reached around the proxy")
	}
}

// TestBrokerAttemptTracedAndCounted: an attempt to a broker is a producer
// span "send <destination>" with the messaging conventions' attributes, a
// child of the message's trace, whose traceparent travels as a message
// header; it is counted as a success in the attempts metric, and a
// refusal as a failure.
func TestBrokerAttemptTracedAndCounted(t *testing.T) {
	t.Parallel()
	const traceID, parentSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	collector := otlptest.NewHTTP(t)
	every := 1.0
	tracer, err := tracing.New(context.Background(), tracing.Config{Endpoint: collector.URL, SampleRatio: &every, Service: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tracer.Shutdown(context.Background()) })
	e := newEnv(t)
	n := brokertest.NewNATS(t)
	e.endpoint(n.URL(n.Addr()))
	e.endpoint("nats://" + n.Addr() + "/hbtest.nostream." + n.Stream)
	msg := &hookbridge.Message{AppID: e.app.ID, EventType: "order.created", Payload: json.RawMessage(`{}`),
		CreatedAt: e.clock.Now(), TraceParent: "00-" + traceID + "-" + parentSpan + "-01"}
	if _, _, err := e.store.CreateMessage(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	d, stop := e.startBroker(dispatch.Config{Tracer: tracer})
	e.waitAttempts(msg.ID, 2)
	got := n.Read(t)
	if len(got) != 1 {
		t.Fatalf("%d messages in the stream", len(got))
	}
	tp := strings.Split(got[0].Raw["traceparent"], "-")
	if len(tp) != 4 || tp[1] != traceID || tp[2] == parentSpan {
		t.Errorf("the message's traceparent %q, want the message's trace with the attempt's span", got[0].Raw["traceparent"])
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(d)
	counts := map[string]float64{}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "hookbridge_delivery_attempts_total" {
			for _, m := range f.GetMetric() {
				counts[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	if counts["success"] != 1 || counts["failure"] != 1 || counts["error"] != 0 {
		t.Errorf("attempts by outcome %v, want one success (the stream's ack) and one failure (no stream)", counts)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if err := tracer.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := collector.Spans()
	if len(spans) != 2 {
		t.Fatalf("spans %v, want the two attempts'", spans)
	}
	for _, s := range spans {
		ok := s.Name == "send "+n.Subject
		if s.Kind != tracepb.Span_SPAN_KIND_PRODUCER || s.TraceID() != traceID || s.ParentID() != parentSpan ||
			(ok != (s.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR)) {
			t.Errorf("attempt span %v, want a producer span, child of %s, failed only for the subject without a stream", s.Span, parentSpan)
		}
		if ok && s.SpanID() != tp[2] {
			t.Errorf("the span that sent the message is %s, the message says %s", s.SpanID(), tp[2])
		}
		for k, v := range map[string]string{"messaging.system": "nats", "messaging.operation.type": "send",
			"messaging.message.id": msg.ID, "server.address": "127.0.0.1", "hookbridge.msg_id": msg.ID} {
			if got := s.Attr(k); got != v {
				t.Errorf("attempt span %s: %s = %q, want %q", s.Name, k, got, v)
			}
		}
	}
}
