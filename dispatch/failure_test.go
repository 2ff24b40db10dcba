package dispatch_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/dispatch"
	"github.com/hookbridge/hookbridge/netguard"
)

// anyIPv4 matches a dotted-quad address anywhere in a text.
var anyIPv4 = regexp.MustCompile(`\b\d{1,3}(\.\d{1,3}){3}\b`)

// closedAddr returns a loopback host:port nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestFailedConnectionText: an attempt that got no response says what
// failed, for the host its URL names — and, since the endpoint's owner
// reads it in the portal, never names the infrastructure between: not the
// resolver asked (the error Go gives reads "lookup x on 10.0.0.2:53: no
// such host"), not the addresses a name resolved to, not the egress proxy.
func TestFailedConnectionText(t *testing.T) {
	t.Parallel()
	closed := closedAddr(t)
	tlsReceiver := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(tlsReceiver.Close)
	_, port, _ := net.SplitHostPort(closed)
	proxy, err := dispatch.ParseProxy("http://" + closedAddr(t))
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name, url string
		cfg       dispatch.Config
		want      []string
		never     []string
	}{
		{
			name: "unresolvable host", url: "http://receiver.invalid/hooks",
			want:  []string{"could not resolve host receiver.invalid"},
			never: []string{"lookup", " on ", "dial"},
		},
		{
			name: "refused connection", url: "http://" + closed + "/hooks",
			want:  []string{"connection refused by " + closed},
			never: []string{"dial", "connect:"},
		},
		{
			// localhost resolves to loopback, which this guard refuses:
			// the attempt says so without the addresses it resolved to.
			name: "name resolving to a refused address", url: "http://localhost:" + port + "/hooks",
			cfg:   dispatch.Config{Guard: netguard.New()},
			want:  []string{"refused: host localhost resolves to an address that is not allowed (loopback)", "--allow-private"},
			never: []string{"127.0.0.1", "::1", "dial"},
		},
		{
			name: "egress proxy unreachable", url: "http://receiver.example.com/hooks",
			cfg:   dispatch.Config{Proxy: proxy},
			want:  []string{"could not reach the egress proxy: connection refused by the proxy"},
			never: []string{proxy.Host, "proxyconnect", "dial"},
		},
		{
			name: "untrusted certificate", url: tlsReceiver.URL + "/hooks",
			want:  []string{"TLS handshake failed: certificate signed by unknown authority"},
			never: []string{"dial"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.endpoint(c.url)
			msg := e.publish(`{}`)
			cfg := c.cfg
			cfg.RequestTimeout = 10 * time.Second
			e.start(cfg)

			a := e.waitAttempts(msg.ID, 1)[0]
			if a.Status != hookbridge.StatusFail || a.StatusCode != 0 {
				t.Errorf("attempt %+v, want a failure without a response", a)
			}
			for _, w := range c.want {
				if !strings.Contains(a.Response, w) {
					t.Errorf("attempt says %q, want it to say %q", a.Response, w)
				}
			}
			for _, n := range c.never {
				if strings.Contains(a.Response, n) {
					t.Errorf("attempt says %q, which names %q", a.Response, n)
				}
			}
			// The only address it may name is one the URL itself holds.
			u, _ := url.Parse(c.url)
			for _, ip := range anyIPv4.FindAllString(a.Response, -1) {
				if ip != u.Hostname() {
					t.Errorf("attempt says %q, which names the address %s", a.Response, ip)
				}
			}
		})
	}
}
