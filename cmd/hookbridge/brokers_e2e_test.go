package main

import (
	"context"
	"strings"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/hookbridge/hookbridge/dispatch/brokertest"
	"github.com/hookbridge/hookbridge/webhook"
)

// TestBrokersEndToEnd: through a running server and the Svix Go SDK, an
// endpoint for each broker (RabbitMQ, NATS JetStream, a Redis stream, and
// Kafka on an in-process cluster) is created with its URL, a message is
// sent, and a consumer of each broker reads it and verifies its signature
// with the endpoint's secret. No answer shows the broker's password.
func TestBrokersEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mq, nats, rd, kafka := brokertest.NewAMQP(t), brokertest.NewNATS(t), brokertest.NewRedis(t), brokertest.NewKafka(t)
	srv := startTestServer(t)
	sx := svixClient(t, srv)
	app, err := sx.Application.Create(ctx, svix.ApplicationIn{Name: "shop"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	password, _ := mq.Server.User.Password()
	secretPart := mq.Server.User.Username() + ":" + password + "@"

	brokers := []struct {
		name string
		url  string
		read func(testing.TB) []brokertest.Arrived
	}{
		{"rabbitmq", mq.URL(mq.Addr()), mq.Read},
		{"nats", nats.URL(nats.Addr()), nats.Read},
		{"redis", rd.URL(rd.Addr(), ""), rd.Read},
		{"kafka", kafka.URL("?key=orderId"), kafka.Read},
	}
	secrets := map[string]string{}
	for _, b := range brokers {
		ep, err := sx.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: b.url, Description: ptr(b.name)}, nil)
		if err != nil {
			t.Fatalf("%s endpoint %s: %v", b.name, b.url, err)
		}
		if strings.Contains(ep.Url, secretPart) {
			t.Errorf("%s: the created endpoint's url %q shows its password", b.name, ep.Url)
		}
		secret, err := sx.Endpoint.GetSecret(ctx, app.Id, ep.Id)
		if err != nil {
			t.Fatal(err)
		}
		secrets[b.name] = secret.Key
	}

	msg, err := sx.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "payment.captured",
		Payload: map[string]any{"orderId": "ord_42", "amount": 1250, "currency": "EUR"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range brokers {
		var got []brokertest.Arrived
		waitFor(t, "the message to reach "+b.name, func() bool { got = b.read(t); return len(got) > 0 })
		if len(got) != 1 {
			t.Fatalf("%s holds %d messages, want 1", b.name, len(got))
		}
		v, err := webhook.NewVerifier(secrets[b.name])
		if err != nil {
			t.Fatal(err)
		}
		if err := v.VerifyAt(time.Now(), got[0].Body, got[0].Header); err != nil {
			t.Errorf("%s: the signature does not verify: %v (headers %v)", b.name, err, got[0].Raw)
		}
		if id := got[0].Header.Get("webhook-id"); id != msg.Id {
			t.Errorf("%s: webhook-id %q, want %q", b.name, id, msg.Id)
		}
		if !strings.Contains(string(got[0].Body), `"orderId":"ord_42"`) {
			t.Errorf("%s: body %s", b.name, got[0].Body)
		}
		if b.name == "kafka" && got[0].Key != "ord_42" {
			t.Errorf("kafka record key %q, want the payload's orderId", got[0].Key)
		}
	}

	var attempts *svix.ListResponseMessageAttemptOut
	waitFor(t, "the four attempts to be listed", func() bool {
		attempts, err = sx.MessageAttempt.ListByMsg(ctx, app.Id, msg.Id, nil)
		return err == nil && len(attempts.Data) == len(brokers)
	})
	for _, a := range attempts.Data {
		if a.Status != svix.MessageStatus(0) || a.ResponseStatusCode != 0 || a.Response == "" || strings.Contains(a.Url, secretPart) {
			t.Errorf("attempt %+v, want a success with status code 0, the broker's answer, and no password", a)
		}
	}
	list, err := sx.Endpoint.List(ctx, app.Id, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range list.Data {
		if strings.Contains(ep.Url, secretPart) {
			t.Errorf("listed endpoint url %q shows its password", ep.Url)
		}
	}
}
