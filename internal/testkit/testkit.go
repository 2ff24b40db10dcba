// Package testkit holds the helpers the packages' tests share: a settable
// clock, so that nothing waits out real time, a wait for a condition
// with a deadline, so that nothing sleeps in place of synchronisation,
// and self-signed certificates for TLS tests. Only tests import it.
package testkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Clock is a clock a test moves. A Clock made by NewClock stands still at
// its start until Advance moves it; the zero Clock follows real time, moved
// forward by what Advance added, so that code on the real clock (a
// dispatcher's timers) and code on this one agree until the test jumps.
type Clock struct {
	mu     sync.Mutex
	start  time.Time // zero: follow real time
	offset time.Duration
}

// NewClock returns a Clock that stands at start.
func NewClock(start time.Time) *Clock { return &Clock{start: start} }

// NewClockNow returns a Clock that stands at the current time, in UTC and
// to the millisecond, as the stores keep times.
func NewClockNow() *Clock { return NewClock(time.Now().UTC().Truncate(time.Millisecond)) }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.start.IsZero() {
		return time.Now().Add(c.offset)
	}
	return c.start.Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// WaitTimeout is how long WaitFor waits before it fails the test.
const WaitTimeout = 10 * time.Second

// WaitFor polls cond until it holds, and fails the test, naming what it
// waited for, if it does not within WaitTimeout.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// SelfSigned makes a certificate for name that signs itself, valid from an
// hour ago for 30 days, for a client or for a server at the given
// addresses (Issue).
func SelfSigned(t testing.TB, name string, ips ...net.IP) (certPEM, keyPEM string, der []byte) {
	t.Helper()
	return Issue(t, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(30 * 24 * time.Hour), IPAddresses: ips,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}}, nil, nil)
}

// Issue makes the certificate tmpl describes, with a new ECDSA P-256 key,
// signed by parent's key, or by its own when parent is nil. It returns the
// certificate and its PKCS #8 key as PEM, and the certificate's DER.
func Issue(t testing.TB, tmpl, parent *x509.Certificate, parentKey crypto.Signer) (certPEM, keyPEM string, der []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err = x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})), der
}

// WantPlan checks a query plan as EXPLAIN printed it: it must contain each
// of uses and none of never. what names the query in the errors.
func WantPlan(t testing.TB, what, plan string, uses, never []string) {
	t.Helper()
	for _, u := range uses {
		if !strings.Contains(plan, u) {
			t.Errorf("%s: plan does not use %q:\n%s", what, u, plan)
		}
	}
	for _, n := range never {
		if strings.Contains(plan, n) {
			t.Errorf("%s: plan has %q:\n%s", what, n, plan)
		}
	}
}
