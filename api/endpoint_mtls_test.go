package api

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge/internal/testkit"
)

// testCert makes a self-signed certificate valid from notBefore to
// notAfter, and returns it and its key as PEM.
func testCert(t *testing.T, name string, notBefore, notAfter time.Time) (certPEM, keyPEM string) {
	t.Helper()
	certPEM, keyPEM, _ = testkit.Issue(t, &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		IsCA:         true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, nil, nil)
	return certPEM, keyPEM
}

// TestEndpointMTLS: an endpoint's client certificate is the sub-resource
// …/mtls: PUT checks it (422 naming the field), GET never shows the key,
// DELETE removes it; EndpointOut never carries it.
func TestEndpointMTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("shop", "shop-1")
	ep := e.createEndpoint("shop-1", obj{"url": "https://receiver.example.com/a"})
	path := "/api/v1/app/shop-1/endpoint/" + str(ep, "id") + "/mtls"
	now := e.clock.Now()

	e.do("GET", path, nil).want(http.StatusNotFound)
	e.do("DELETE", path, nil).want(http.StatusNotFound)

	cert, key := testCert(t, "hookbridge", now.Add(-time.Hour), now.Add(30*24*time.Hour))
	ca, _ := testCert(t, "receiver CA", now.Add(-time.Hour), now.Add(365*24*time.Hour))
	otherCert, otherKey := testCert(t, "other", now.Add(-time.Hour), now.Add(time.Hour))
	expired, expiredKey := testCert(t, "old", now.Add(-48*time.Hour), now.Add(-time.Hour))

	for _, c := range []struct {
		name string
		body any
		locs []string
	}{
		{"Empty", obj{}, []string{"body.clientCert", "body.clientKey"}},
		{"NotPEM", obj{"clientCert": "hello", "clientKey": key}, []string{"body.clientCert"}},
		{"KeyAsCert", obj{"clientCert": key, "clientKey": key}, []string{"body.clientCert"}},
		{"KeyNotPEM", obj{"clientCert": cert, "clientKey": "secret"}, []string{"body.clientKey"}},
		{"KeyOfAnother", obj{"clientCert": cert, "clientKey": otherKey}, []string{"body.clientKey"}},
		{"Expired", obj{"clientCert": expired, "clientKey": expiredKey}, []string{"body.clientCert"}},
		{"BadCA", obj{"clientCert": cert, "clientKey": key, "caBundle": "not a certificate"}, []string{"body.caBundle"}},
		{"TooLong", obj{"clientCert": cert + strings.Repeat("x", maxPEMLen), "clientKey": key}, []string{"body.clientCert"}},
	} {
		r := e.do("PUT", path, c.body).want(http.StatusUnprocessableEntity)
		if locs := validationLocs(t, r); strings.Join(locs, ",") != strings.Join(c.locs, ",") {
			t.Errorf("%s: errors at %v, want %v", c.name, locs, c.locs)
		}
	}
	e.do("GET", path, nil).want(http.StatusNotFound)
	if r := e.do("PUT", path, obj{"clientCert": expired, "clientKey": expiredKey}); !strings.Contains(string(r.Body), "expired on") {
		t.Errorf("an expired certificate: %s, want it to say when it expired", r.Body)
	}

	out := e.do("PUT", path, obj{"clientCert": cert, "clientKey": key, "caBundle": ca}).want(http.StatusOK).object()
	got := e.do("GET", path, nil).want(http.StatusOK)
	if strings.Contains(string(got.Body), "PRIVATE KEY") {
		t.Fatalf("GET …/mtls shows the private key: %s", got.Body)
	}
	read := got.object()
	if str(read, "clientCert") != cert || str(read, "caBundle") != ca || str(read, "subject") != "CN=hookbridge" || str(read, "notAfter") != str(out, "notAfter") {
		t.Errorf("read back %v, want the certificate and CA as set (PUT answered %v)", read, out)
	}
	if _, has := read["clientKey"]; has {
		t.Error("EndpointMtlsOut has clientKey")
	}
	epOut := e.do("GET", "/api/v1/app/shop-1/endpoint/"+str(ep, "id"), nil).want(http.StatusOK)
	if strings.Contains(string(epOut.Body), "CERTIFICATE") || strings.Contains(string(epOut.Body), "mtls") {
		t.Errorf("EndpointOut carries the client certificate: %s", epOut.Body)
	}

	// Replaced without a CA bundle: the system's roots again.
	e.do("PUT", path, obj{"clientCert": otherCert, "clientKey": otherKey, "caBundle": nil}).want(http.StatusOK)
	read = e.do("GET", path, nil).want(http.StatusOK).object()
	if read["caBundle"] != nil || str(read, "subject") != "CN=other" {
		t.Errorf("replaced: %v", read)
	}

	e.do("DELETE", path, nil).want(http.StatusNoContent)
	e.do("GET", path, nil).want(http.StatusNotFound)
	e.do("DELETE", path, nil).want(http.StatusNotFound)
	e.do("PUT", "/api/v1/app/shop-1/endpoint/ep_nope/mtls", obj{"clientCert": cert, "clientKey": key}).want(http.StatusNotFound)
}
