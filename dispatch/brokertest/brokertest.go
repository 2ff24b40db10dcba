// Package brokertest gives tests the message brokers deliveries may go to:
// the RabbitMQ, NATS (with JetStream) and Redis servers named by
// HOOKBRIDGE_TEST_AMQP, HOOKBRIDGE_TEST_NATS and HOOKBRIDGE_TEST_REDIS, and
// an in-process Kafka cluster (franz-go's kfake: no Kafka broker is
// installed on the machines the tests run on). Each test gets its own
// exchange and queue, stream and subject, stream key or topic, removed
// when it ends, so tests run in parallel against one server.
//
// Without the variable of a server the tests that need it are skipped,
// except under CI (CI=true), where a missing server is a failure: CI must
// not pass by running nothing. .ci/run starts the servers and sets them.
//
// A Relay stands between a test and a shared server so that the test can
// make the server unreachable, and reachable again, without stopping it
// for the other tests.
package brokertest

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"os"
	"testing"
)

// The environment variables naming the test servers.
const (
	EnvAMQP  = "HOOKBRIDGE_TEST_AMQP"  // amqp://guest:guest@127.0.0.1:5672/
	EnvNATS  = "HOOKBRIDGE_TEST_NATS"  // nats://127.0.0.1:4222 (JetStream on)
	EnvRedis = "HOOKBRIDGE_TEST_REDIS" // redis://127.0.0.1:6379
)

// server returns the URL in the variable env, or skips the test (fails it
// under CI) when it is not set.
func server(t testing.TB, env, what string) *url.URL {
	t.Helper()
	raw := os.Getenv(env)
	if raw == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must run the %s tests", env, what)
		}
		t.Skipf("%s is not set: skipping the %s tests", env, what)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		t.Fatalf("%s=%q: want a URL such as scheme://host:port", env, raw)
	}
	return u
}

// Name returns prefix and a random suffix: a name no other test uses.
func Name(t testing.TB, prefix string) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return prefix + "_" + hex.EncodeToString(b[:])
}

// Arrived is one message as a consumer read it from a broker: the body and
// the headers (or, for a Redis entry, the fields besides body) under the
// names the message carried, and the Kafka record key.
type Arrived struct {
	Body   []byte
	Header http.Header // canonical keys, as webhook.Verifier reads them
	Raw    map[string]string
	Key    string
}

func newArrived(body []byte) Arrived {
	return Arrived{Body: body, Header: http.Header{}, Raw: map[string]string{}}
}

func (a *Arrived) set(k, v string) {
	a.Header.Set(k, v)
	a.Raw[k] = v
}

// hostPort is u's host:port, with port when u names none.
func hostPort(u *url.URL, port string) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), port)
}
