package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	stripewebhook "github.com/stripe/stripe-go/v82/webhook"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/postgres/pgtest"
	"github.com/hookbridge/hookbridge/sealed"
)

// stripeNotification is a Stripe event about a PaymentIntent of a single
// account (no "account"): typ payment_intent.succeeded,
// payment_intent.amount_capturable_updated, payment_intent.payment_failed,
// or refund.updated (a refund of the whole amount).
func stripeNotification(evt, typ, pi string, created time.Time, extra string) []byte {
	obj := fmt.Sprintf(`{"id":%q,"object":"payment_intent","amount":2599,"amount_received":2599,"amount_capturable":2599,"currency":"eur","status":"succeeded"%s}`,
		pi, extra)
	if typ == "refund.updated" {
		obj = fmt.Sprintf(`{"id":"re_%s","object":"refund","amount":2599,"currency":"eur","status":"succeeded","payment_intent":%q}`, evt, pi)
	}
	return fmt.Appendf(nil, `{"id":%q,"object":"event","api_version":"2024-06-20","type":%q,"created":%d,"livemode":false,"data":{"object":%s}}`,
		evt, typ, created.Unix(), obj)
}

// postSigned signs body as Stripe does (stripe-go's test signer) and posts
// it to the source, failing the test unless it is acknowledged.
func postSigned(t *testing.T, srv *server, source string, body []byte) {
	t.Helper()
	signed := stripewebhook.GenerateTestSignedPayload(&stripewebhook.UnsignedPayload{Payload: body, Secret: e2eStripeSecret, Timestamp: time.Now()})
	if code, out := callAPI(t, srv, "POST", "/in/"+source, signed.Payload, map[string]string{"Stripe-Signature": signed.Header}); code != http.StatusOK {
		t.Fatalf("POST /in/%s: %d %s", source, code, out)
	}
}

// paymentDelivery is the payment state part of a delivered canonical
// event.
type paymentDelivery struct {
	ID             string  `json:"id"`
	Sequence       int64   `json:"sequence"`
	PreviousStatus *string `json:"previousStatus"`
	PaymentStatus  *string `json:"paymentStatus"`
	Stale          bool    `json:"stale"`
	OccurredAt     string  `json:"occurredAt"`
}

func (p paymentDelivery) String() string {
	s := func(v *string) string {
		if v == nil {
			return "null"
		}
		return *v
	}
	return fmt.Sprintf("%s #%d %s→%s stale=%v", p.ID, p.Sequence, s(p.PreviousStatus), s(p.PaymentStatus), p.Stale)
}

// nextPayment waits for the receiver's next delivery, checks its signature
// and decodes its payment state.
func nextPayment(t *testing.T, rcv *receiver, wh *svix.Webhook) paymentDelivery {
	t.Helper()
	got := rcv.next(t)
	if err := wh.Verify(got.Body, got.Header); err != nil {
		t.Fatalf("signature: %v", err)
	}
	var p paymentDelivery
	if err := json.Unmarshal(got.Body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPaymentStateEndToEnd, on SQLite and on PostgreSQL: Stripe
// notifications of one payment, signed as Stripe signs them, arrive out of
// order at a running server; the consumer gets each payment's events with
// their sequence and status, a late one flagged stale. A source holding
// stale notifications delivers its late one only when an operator
// releases it with `hookbridge source release`.
func TestPaymentStateEndToEnd(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"SQLite", "PostgreSQL"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			var edit []func(*serveConfig)
			if store == "PostgreSQL" {
				dsn := pgtest.Schema(t)
				// PostgreSQL takes no generated key: every instance is given one.
				edit = append(edit, func(c *serveConfig) { c.DB, c.Migrate, c.SecretKey = dsn, true, testSecretKey })
			}
			paymentStateEndToEnd(t, startTestServer(t, edit...))
		})
	}
}

// pizzaEndpoint creates the application "pizza" with one endpoint, the
// receiver it returns, and the verifier of that endpoint's signatures.
func pizzaEndpoint(t *testing.T, srv *server) (*receiver, *svix.Webhook) {
	t.Helper()
	ctx := context.Background()
	sx := svixClient(t, srv)
	if _, err := sx.Application.Create(ctx, svix.ApplicationIn{Name: "Pizza Place", Uid: ptr("pizza")}, nil); err != nil {
		t.Fatal(err)
	}
	rcv := newReceiver(t)
	ep, err := sx.Endpoint.Create(ctx, "pizza", svix.EndpointIn{Url: rcv.URL + "/payments"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := sx.Endpoint.GetSecret(ctx, "pizza", ep.Id)
	if err != nil {
		t.Fatal(err)
	}
	wh, err := svix.NewWebhook(secret.Key)
	if err != nil {
		t.Fatal(err)
	}
	return rcv, wh
}

func paymentStateEndToEnd(t *testing.T, srv *server) {
	rcv, wh := pizzaEndpoint(t, srv)
	flagged := createSourceCLI(t, srv, "--scheme", "stripe", "--secret", e2eStripeSecret, "--app", "pizza", "--state", "on")
	held := createSourceCLI(t, srv, "--scheme", "stripe", "--secret", e2eStripeSecret, "--app", "pizza", "--state", "on",
		"--stale-policy", "hold")
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

	// Forward-flagged: the capture first, then the authorisation Stripe
	// made before it, then a refund.
	postSigned(t, srv, flagged, stripeNotification("evt_cap", "payment_intent.succeeded", "pi_A", t0.Add(time.Minute), ""))
	postSigned(t, srv, flagged, stripeNotification("evt_auth", "payment_intent.amount_capturable_updated", "pi_A", t0, ""))
	postSigned(t, srv, flagged, stripeNotification("evt_ref", "refund.updated", "pi_A", t0.Add(time.Hour), ""))
	var got []string
	for range 3 {
		got = append(got, nextPayment(t, rcv, wh).String())
	}
	want := "pi_A #1 null→captured stale=false; pi_A #2 captured→captured stale=true; re_evt_ref #3 captured→refunded stale=false"
	if strings.Join(got, "; ") != want {
		t.Errorf("delivered:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.ReplaceAll(want, "; ", "\n"))
	}

	// Hold: the late failure is kept, and the next delivery is the
	// refund after it.
	postSigned(t, srv, held, stripeNotification("evt_capB", "payment_intent.succeeded", "pi_B", t0.Add(time.Minute), ""))
	if p := nextPayment(t, rcv, wh); p.String() != "pi_B #1 null→captured stale=false" {
		t.Errorf("capture delivered as %s", p)
	}
	postSigned(t, srv, held, stripeNotification("evt_failB", "payment_intent.payment_failed", "pi_B", t0, ""))
	postSigned(t, srv, held, stripeNotification("evt_refB", "refund.updated", "pi_B", t0.Add(time.Hour), ""))
	if p := nextPayment(t, rcv, wh); p.String() != "re_evt_refB #3 captured→refunded stale=false" {
		t.Errorf("after the held failure, delivered %s; want the refund", p)
	}
	list := string(cli(t, srv, "source", "events", held, "--held"))
	if !strings.Contains(list, "evt_failB") || !strings.Contains(list, "held") || strings.Contains(list, "evt_refB") {
		t.Fatalf("source events --held:\n%s", list)
	}
	var events struct {
		Data []struct {
			ID      string `json:"id"`
			EventID string `json:"eventId"`
		} `json:"data"`
	}
	_, raw := callAPI(t, srv, "GET", "/api/v1/source/"+held+"/events?held=true", nil, nil)
	if err := json.Unmarshal(raw, &events); err != nil || len(events.Data) != 1 {
		t.Fatalf("held events: %s", raw)
	}
	var released struct {
		Forwarded  bool     `json:"forwarded"`
		MessageIDs []string `json:"messageIds"`
	}
	if err := json.Unmarshal(cli(t, srv, "source", "release", held, events.Data[0].ID), &released); err != nil ||
		!released.Forwarded || len(released.MessageIDs) != 1 {
		t.Fatalf("release: %+v %v", released, err)
	}
	if p := nextPayment(t, rcv, wh); p.String() != "pi_B #2 captured→captured stale=true" {
		t.Errorf("the released failure delivered as %s", p)
	}
}

// TestRawBodiesSealedEndToEnd: with --secret-key, a processor's raw body
// is not in the database file (a marker only the body carries is not
// found in it), yet the API shows it; --raw-retention drops it later,
// keeping the event.
func TestRawBodiesSealedEndToEnd(t *testing.T) {
	t.Parallel()
	const marker = "Zyzzyva-cardholder-7f3a1c"
	db := filepath.Join(t.TempDir(), "hookbridge.db")
	srv := startTestServer(t, func(c *serveConfig) { c.DB, c.SecretKey = db, sealed.NewKey() })
	callAPI(t, srv, "POST", "/api/v1/app", []byte(`{"name":"Pizza Place","uid":"pizza"}`), nil)
	src := createSourceCLI(t, srv, "--scheme", "stripe", "--secret", e2eStripeSecret, "--app", "pizza", "--state", "on")
	postSigned(t, srv, src, stripeNotification("evt_marked", "payment_intent.succeeded", "pi_M", time.Now(),
		`,"description":"`+marker+`","receipt_email":"`+marker+`@example.com"`))
	_, raw := callAPI(t, srv, "GET", "/api/v1/source/"+src+"/events", nil, nil)
	if !bytes.Contains(raw, []byte(marker)) {
		t.Fatalf("the API does not show the raw body: %s", raw)
	}
	if err := srv.Shutdown(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{db, db + "-wal", db + "-shm"} {
		b, err := os.ReadFile(name)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(marker)) {
			t.Fatalf("%s holds the notification's body in the clear", name)
		}
	}
}

// TestRawRetentionEndToEnd: serve's retention job drops raw bodies older
// than --raw-retention and keeps their events, which --retention keeps.
func TestRawRetentionEndToEnd(t *testing.T) {
	t.Parallel()
	srv := startTestServer(t, func(c *serveConfig) {
		c.Retention, c.RawRetention, c.RetentionInterval = time.Hour, time.Millisecond, 50*time.Millisecond
	})
	src := createSourceCLI(t, srv, "--scheme", "stripe", "--secret", e2eStripeSecret, "--state", "shadow")
	postSigned(t, srv, src, stripeNotification("evt_old", "payment_intent.succeeded", "pi_R", time.Now(), ""))
	waitFor(t, "the raw body to be dropped", func() bool {
		var events struct {
			Data []struct {
				EventID       string  `json:"eventId"`
				Body          *string `json:"body"`
				BodyDroppedAt *string `json:"bodyDroppedAt"`
			} `json:"data"`
		}
		_, raw := callAPI(t, srv, "GET", "/api/v1/source/"+src+"/events", nil, nil)
		if err := json.Unmarshal(raw, &events); err != nil || len(events.Data) != 1 || events.Data[0].EventID != "evt_old" {
			t.Fatalf("events: %s", raw)
		}
		return events.Data[0].Body == nil && events.Data[0].BodyDroppedAt != nil
	})
}

// TestREADMEInboundExample follows the README's inbound example as it is
// written (its hookbridge and curl lines, read from the README) on a
// single Stripe account: notifications that name no merchant go to the
// --app application, and --percent 10 forwards every event of the payments
// in the first tenth of the buckets and nothing of the others.
func TestREADMEInboundExample(t *testing.T) {
	t.Parallel()
	steps := readmeInboundSteps(t)
	srv := startTestServer(t)
	// The README's quick start made the application before.
	if code, out := callAPI(t, srv, "POST", "/api/v1/app", []byte(`{"name":"Pizza Place","uid":"merchant-42"}`), nil); code != http.StatusCreated {
		t.Fatalf("create app: %d %s", code, out)
	}
	var in, out []string
	for i := 0; len(in) < 2 || len(out) < 2; i++ {
		pi := fmt.Sprintf("pi_3PzE2e%d", i)
		if hookbridge.MerchantBucket(pi) < 10 {
			in = append(in, pi)
		} else {
			out = append(out, pi)
		}
	}
	src := ""
	vars := func(arg string) string {
		r := strings.NewReplacer("$KEY", testAPIKey, "$STRIPE_WHSEC", e2eStripeSecret, "$AUTH", "", "$HB", "")
		arg = r.Replace(arg)
		if src != "" {
			arg = strings.ReplaceAll(arg, "src_…", src)
		}
		return arg
	}
	ran := map[string]bool{}
	for _, step := range steps {
		for i := range step {
			step[i] = vars(step[i])
		}
		switch {
		case step[0] == "hookbridge":
			var stdout, stderr bytes.Buffer
			args := append(step[1:], "--url", "http://"+srv.Addr)
			if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
				t.Fatalf("%s: exit %d: %s", strings.Join(step, " "), code, stderr.String())
			}
			if step[1] == "source" && step[2] == "create" {
				var created struct {
					ID string `json:"id"`
				}
				if err := json.Unmarshal(stdout.Bytes(), &created); err != nil {
					t.Fatal(err)
				}
				src = created.ID
				// While in shadow: nothing is forwarded.
				for _, pi := range []string{in[0], out[0]} {
					postSigned(t, srv, src, stripeNotification("evt_shadow_"+pi, "payment_intent.succeeded", pi, time.Now(), ""))
				}
			}
			if step[1] == "source" && step[2] == "events" && !strings.Contains(stdout.String(), "evt_shadow_") {
				t.Errorf("source events shows no notification:\n%s", stdout.String())
			}
			ran[step[1]+" "+step[2]] = true
		case step[0] == "curl":
			path := step[len(step)-1]
			if !strings.HasPrefix(path, "/source/") {
				t.Fatalf("unexpected curl step %q", strings.Join(step, " "))
			}
			if code, out := callAPI(t, srv, "GET", "/api/v1"+path, nil, nil); code != http.StatusOK {
				t.Fatalf("%s: %d %s", path, code, out)
			}
			ran["curl"] = true
		default:
			t.Fatalf("a README step this test does not follow: %q", strings.Join(step, " "))
		}
	}
	for _, want := range []string{"source create", "source set-state", "curl"} {
		if !ran[want] {
			t.Fatalf("the README's example has no %s step (steps: %q)", want, steps)
		}
	}
	if !strings.Contains(strings.Join(steps[1], " ")+strings.Join(steps[2], " "), "--percent 10") {
		t.Fatalf("the README's example no longer rolls out --percent 10: %q", steps)
	}

	// On for 10%: every event of the payments selected, none of the
	// others'.
	for _, pi := range append(in, out...) {
		postSigned(t, srv, src, stripeNotification("evt_cap_"+pi, "payment_intent.succeeded", pi, time.Now(), ""))
		postSigned(t, srv, src, stripeNotification("evt_ref_"+pi, "refund.updated", pi, time.Now(), ""))
	}
	var msgs struct {
		Data []struct {
			EventID string `json:"eventId"`
		} `json:"data"`
	}
	_, raw := callAPI(t, srv, "GET", "/api/v1/app/merchant-42/msg?limit=100", nil, nil)
	if err := json.Unmarshal(raw, &msgs); err != nil {
		t.Fatal(err)
	}
	var forwarded []string
	for _, m := range msgs.Data {
		forwarded = append(forwarded, m.EventID)
	}
	for _, pi := range in {
		for _, evt := range []string{"evt_cap_", "evt_ref_"} {
			if !strings.Contains(strings.Join(forwarded, " "), "stripe."+evt+pi) {
				t.Errorf("%s%s (payment in bucket %d) was not forwarded; forwarded: %v", evt, pi, hookbridge.MerchantBucket(pi), forwarded)
			}
		}
	}
	if len(forwarded) != 2*len(in) {
		t.Errorf("forwarded %v, want the %d events of %v only", forwarded, 2*len(in), in)
	}
	// What was not forwarded says how to change that.
	var events struct {
		Data []struct {
			EventID   string `json:"eventId"`
			Forwarded bool   `json:"forwarded"`
			Note      string `json:"note"`
		} `json:"data"`
	}
	_, raw = callAPI(t, srv, "GET", "/api/v1/source/"+url.PathEscape(src)+"/events?limit=100", nil, nil)
	if err := json.Unmarshal(raw, &events); err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Data {
		if strings.Contains(e.EventID, out[0]) && strings.HasPrefix(e.EventID, "evt_cap_") && !strings.Contains(e.Note, "raise the percentage") {
			t.Errorf("%s: note %q does not say what to change", e.EventID, e.Note)
		}
	}
}

// readmeInboundSteps reads the README's inbound example: each command
// line (continuations joined, comments dropped) split into arguments.
func readmeInboundSteps(t *testing.T) [][]string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "## Inbound: payment processors")
	if start < 0 {
		t.Fatal("the README has no inbound section")
	}
	text = text[start:]
	open := strings.Index(text, "```sh\n")
	if open < 0 {
		t.Fatal("the README's inbound section has no example")
	}
	text = text[open+len("```sh\n"):]
	text = text[:strings.Index(text, "```")]
	var steps [][]string
	for line := range strings.SplitSeq(strings.ReplaceAll(text, "\\\n", " "), "\n") {
		args := shellWords(line)
		if len(args) > 0 {
			steps = append(steps, args)
		}
	}
	return steps
}

// shellWords splits a shell line as the README writes them: words apart
// by spaces, "double quotes" keeping spaces, # starting a comment.
func shellWords(line string) []string {
	var (
		out    []string
		word   strings.Builder
		inWord bool
		quoted bool
	)
	for _, r := range line {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case r == '#' && !quoted && !inWord:
			return out
		case (r == ' ' || r == '\t') && !quoted:
			if inWord {
				out = append(out, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, word.String())
	}
	return out
}
