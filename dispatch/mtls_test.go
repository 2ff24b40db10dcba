package dispatch_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/dispatch"
)

// testCA is a certificate authority a test makes.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// issue makes a certificate signed by the CA, for a server at 127.0.0.1 or
// a client, and returns it and its key as PEM.
func (ca *testCA) issue(t *testing.T, name string, server bool) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

// mtlsReceiver is a receiver that requires a client certificate signed by
// ca, and reports the common name of each client it accepted a request of.
func mtlsReceiver(t *testing.T, ca *testCA) (*httptest.Server, <-chan string) {
	t.Helper()
	certPEM, keyPEM := ca.issue(t, "receiver", true)
	pair, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		t.Fatal(err)
	}
	clients := x509.NewCertPool()
	clients.AddCert(ca.cert)
	got := make(chan string, 100)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got <- r.TLS.PeerCertificates[0].Subject.CommonName
		io.WriteString(w, "accepted")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clients}
	// The handshake failures are the test's point, not noise for its log.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, got
}

// TestMutualTLS: a receiver that requires a client certificate refuses a
// request without one it trusts (a failed attempt that says the TLS
// handshake failed), and accepts the retry once the endpoint's certificate
// is one its CA signed; the endpoint's CA bundle is what the receiver's
// own certificate is checked against. Both attempts are in the log.
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	ca := newTestCA(t, "receiver CA")
	srv, got := mtlsReceiver(t, ca)
	ep, _ := e.endpoint(srv.URL)

	// A certificate from a CA the receiver does not trust: the client
	// does not even offer it, since it matches none of the CAs the
	// receiver asks for, so the receiver gets no client certificate.
	other := newTestCA(t, "another CA")
	badCert, badKey := other.issue(t, "stranger", false)
	ok := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ok(e.store.PutEndpointMTLS(ctx, e.app.ID, ep.ID, &hookbridge.EndpointMTLS{CertPEM: badCert, KeyPEM: badKey, CAPEM: ca.pem, NotAfter: time.Now().Add(time.Hour)}))
	msg := e.publish(`{"n":1}`)
	d, _ := e.start(dispatch.Config{})
	as := e.waitAttempts(msg.ID, 1)
	if a := as[0]; a.Status != hookbridge.StatusFail || a.StatusCode != 0 || a.Response != "TLS handshake failed: certificate required" {
		t.Fatalf("attempt without a trusted client certificate: %+v, want a failed one that says the TLS handshake failed for want of a certificate", a)
	}
	e.waitStatus(msg.ID, ep.ID, hookbridge.StatusSending)

	// The right certificate, set while the retry waits: the retry uses it.
	goodCert, goodKey := ca.issue(t, "hookbridge", false)
	ok(e.store.PutEndpointMTLS(ctx, e.app.ID, ep.ID, &hookbridge.EndpointMTLS{CertPEM: goodCert, KeyPEM: goodKey, CAPEM: ca.pem, NotAfter: time.Now().Add(time.Hour)}))
	e.clock.Advance(10 * time.Second)
	d.Wake()
	select {
	case cn := <-got:
		if cn != "hookbridge" {
			t.Errorf("receiver saw client %q, want hookbridge", cn)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the receiver got no request with the client certificate")
	}
	as = e.waitAttempts(msg.ID, 2)
	if a := as[1]; a.Status != hookbridge.StatusSuccess || a.StatusCode != 200 || a.Response != "accepted" {
		t.Errorf("attempt with the client certificate: %+v, want success", a)
	}
	e.waitStatus(msg.ID, ep.ID, hookbridge.StatusSuccess)

	// Without the certificate at all, the endpoint is sent as any other:
	// here the receiver's certificate is not one the system trusts, so the
	// handshake fails again, and says so.
	ok(e.store.DeleteEndpointMTLS(ctx, e.app.ID, ep.ID))
	msg2 := e.publish(`{"n":2}`)
	d.Wake()
	as = e.waitAttempts(msg2.ID, 1)
	if a := as[0]; a.Status != hookbridge.StatusFail || !strings.HasPrefix(a.Response, "TLS handshake failed") {
		t.Errorf("attempt after the certificate was removed: %+v, want a failed handshake", a)
	}
}
