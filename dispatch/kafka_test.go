package dispatch_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/dispatch"
	"github.com/hookbridge/hookbridge/dispatch/brokertest"
	"github.com/hookbridge/hookbridge/internal/testkit"
)

// TestKafkaSASL: a kafka URL's user and password authenticate with the
// ?sasl= mechanism, against a cluster that requires SASL (kfake with
// users of each mechanism): the right password is a written record, a
// wrong one a failed attempt that says the cluster refused the
// credentials, retried like any failure; no attempt shows the password.
func TestKafkaSASL(t *testing.T) {
	t.Parallel()
	topic := brokertest.Name(t, "hb_sasl")
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.SeedTopics(1, topic),
		kfake.Superuser("PLAIN", "plain-user", "plain-pw"),
		kfake.Superuser("SCRAM-SHA-256", "scram256-user", "scram256-pw"),
		kfake.Superuser("SCRAM-SHA-512", "scram512-user", "scram512-pw"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	url := func(userinfo, sasl string) string {
		return "kafka://" + userinfo + "@" + addr + "/" + topic + "?sasl=" + sasl
	}

	e := newEnv(t)
	good := map[string]string{}
	for _, m := range []struct{ userinfo, sasl string }{
		{"plain-user:plain-pw", "plain"},
		{"scram256-user:scram256-pw", "scram-sha-256"},
		{"scram512-user:scram512-pw", "SCRAM-SHA-512"},
	} {
		ep, _ := e.endpoint(url(m.userinfo, m.sasl))
		good[ep.ID] = m.sasl
	}
	wrong, _ := e.endpoint(url("scram256-user:not-the-pw", "scram-sha-256"))
	wrongMechanism, _ := e.endpoint(url("plain-user:plain-pw", "scram-sha-512")) // a PLAIN user only
	msg := e.publish(`{"n":1}`)
	e.startBroker(dispatch.Config{})

	for id := range good {
		e.waitStatus(msg.ID, id, hookbridge.StatusSuccess)
	}
	for _, id := range []string{wrong.ID, wrongMechanism.ID} {
		e.waitStatus(msg.ID, id, hookbridge.StatusSending)
	}
	for _, at := range e.waitAttempts(msg.ID, 5) {
		switch {
		case good[at.EndpointID] != "":
			if at.Status != hookbridge.StatusSuccess || !strings.Contains(at.Response, "written to topic "+topic) {
				t.Errorf("%s: attempt %s %q, want the record written", good[at.EndpointID], at.Status, at.Response)
			}
		default:
			if at.Status != hookbridge.StatusFail || !strings.Contains(at.Response, "the cluster refused the credentials (SASL SCRAM-SHA-") ||
				!strings.Contains(at.Response, "check the URL's user, password and ?sasl=") {
				t.Errorf("attempt to %s: %s %q, want a failure saying the credentials were refused", at.URL, at.Status, at.Response)
			}
		}
		if strings.Contains(at.URL+at.Response, "-pw") {
			t.Errorf("attempt %q to %s shows a password", at.Response, at.URL)
		}
	}

	// What the cluster holds: one record from each authenticated endpoint.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.SASL(scram.Auth{User: "scram512-user", Pass: "scram512-pw"}.AsSha512Mechanism()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var records int
	for records < 3 {
		fetches := cl.PollFetches(t.Context())
		if err := fetches.Err(); err != nil {
			t.Fatal(err)
		}
		records += fetches.NumRecords()
	}
	if records != 3 {
		t.Errorf("the topic holds %d records, want 3", records)
	}
}

// TestKafkaTLS: a kafkas:// URL speaks TLS to the cluster and verifies it
// as every TLS transport does (the system's roots, the broker's name): a
// cluster whose certificate no root signs fails the try, saying so, and
// gets nothing; a cluster that speaks plain text gets nothing either (a
// Kafka broker closes the connection on the handshake; kfake waits, and the
// try runs out).
func TestKafkaTLS(t *testing.T) {
	t.Parallel()
	topic := brokertest.Name(t, "hb_tls")
	secure, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic), kfake.TLS(selfSigned(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(secure.Close)
	k := brokertest.NewKafka(t)

	e := newEnv(t)
	untrusted, _ := e.endpoint("kafkas://" + secure.ListenAddrs()[0] + "/" + topic)
	plainText, _ := e.endpoint(strings.Replace(k.URL(""), "kafka://", "kafkas://", 1))
	msg := e.publish(`{}`)
	e.startBroker(dispatch.Config{})
	want := map[string]string{untrusted.ID: "certificate signed by unknown authority", plainText.ID: ""}
	for _, at := range e.waitAttempts(msg.ID, 2) {
		if at.Status != hookbridge.StatusFail || !strings.Contains(at.Response, want[at.EndpointID]) {
			t.Errorf("attempt to %s: %s %q, want a failure saying %q", at.URL, at.Status, at.Response, want[at.EndpointID])
		}
	}
	if got := k.Read(t); len(got) != 0 {
		t.Errorf("the plain-text cluster holds %d records", len(got))
	}
}

// selfSigned is a server TLS configuration whose certificate, for
// 127.0.0.1, signs itself.
func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	certPEM, keyPEM, _ := testkit.SelfSigned(t, "kafka", net.IPv4(127, 0, 0, 1))
	pair, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}}
}

// TestKafkaTLSPrivateCA: a kafkas:// URL delivers to a cluster whose
// certificate chains to a private CA given by SSL_CERT_FILE, as
// docs/delivery.md says, and the record arrives. Go reads the system's
// roots once per process, so the test runs itself again in a child
// process with SSL_CERT_FILE set; the child does the delivery.
func TestKafkaTLSPrivateCA(t *testing.T) {
	const childEnv = "HOOKBRIDGE_TEST_KAFKA_TLS_DIR"
	dir := os.Getenv(childEnv)
	if dir == "" {
		t.Parallel()
		dir = t.TempDir()
		certPEM, keyPEM, _ := testkit.SelfSigned(t, "kafka", net.IPv4(127, 0, 0, 1))
		for name, pem := range map[string]string{"cert.pem": certPEM, "key.pem": keyPEM} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(pem), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestKafkaTLSPrivateCA$", "-test.v", "-test.count=1")
		// The certificate signs itself: it is the private CA.
		cmd.Env = append(os.Environ(), childEnv+"="+dir, "SSL_CERT_FILE="+filepath.Join(dir, "cert.pem"))
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestKafkaTLSPrivateCA") {
			t.Fatalf("the child process (SSL_CERT_FILE set): %v\n%s", err, out)
		}
		return
	}

	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	topic := brokertest.Name(t, "hb_tls_ca")
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{pair}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]

	e := newEnv(t)
	ep, _ := e.endpoint("kafkas://" + addr + "/" + topic)
	msg := e.publish(`{"n":1}`)
	e.startBroker(dispatch.Config{})
	e.waitStatus(msg.ID, ep.ID, hookbridge.StatusSuccess)
	for _, at := range e.waitAttempts(msg.ID, 1) {
		if at.Status != hookbridge.StatusSuccess || !strings.Contains(at.Response, "written to topic "+topic) {
			t.Errorf("attempt %s %q, want the record written", at.Status, at.Response)
		}
	}

	roots, err := x509.SystemCertPool()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTLSConfig(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	fetches := cl.PollFetches(t.Context())
	if err := fetches.Err(); err != nil {
		t.Fatal(err)
	}
	if recs := fetches.Records(); len(recs) != 1 || string(recs[0].Value) != `{"n":1}` {
		var got []string
		for _, r := range recs {
			got = append(got, string(r.Value))
		}
		t.Errorf("the topic holds %q, want the one message", got)
	}
}
