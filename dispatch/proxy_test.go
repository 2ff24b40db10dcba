package dispatch_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/dispatch"
	"github.com/hookbridge/hookbridge/netguard"
	"github.com/hookbridge/hookbridge/webhook"
)

// egressProxy is a small HTTP forward proxy of the kind deployments put
// in front of outbound webhooks: it takes absolute-form requests for http
// targets, and either forwards them or, like Smokescreen for a denied
// destination, answers 403 itself.
type egressProxy struct {
	*httptest.Server
	mu     sync.Mutex
	seen   []string // the absolute URLs asked for
	refuse bool
}

func newEgressProxy(t *testing.T, refuse bool) *egressProxy {
	t.Helper()
	p := &egressProxy{refuse: refuse}
	upstream := &http.Transport{}
	t.Cleanup(upstream.CloseIdleConnections)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.IsAbs() {
			http.Error(w, "a forward proxy takes absolute URLs", http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.seen = append(p.seen, r.URL.String())
		p.mu.Unlock()
		if p.refuse {
			http.Error(w, "egress denied by policy", http.StatusForbidden)
			return
		}
		out := r.Clone(r.Context())
		out.RequestURI = ""
		out.Header.Del("Proxy-Connection")
		resp, err := upstream.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *egressProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func (p *egressProxy) url(t *testing.T) *url.URL {
	t.Helper()
	u, err := dispatch.ParseProxy(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestDeliveryThroughProxy: with a proxy, the delivery goes through it,
// signed as ever, and the guard no longer judges the dialled address —
// neither the proxy's nor the receiver's is allow-listed here, both being
// loopback.
func TestDeliveryThroughProxy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv, got := receiver(t, ok)
	ep, secret := e.endpoint(srv.URL + "/hooks")
	msg := e.publish(`{"order":"o_1"}`)
	proxy := newEgressProxy(t, false)
	e.start(dispatch.Config{Guard: netguard.New(), Proxy: proxy.url(t)})

	r := receive(t, got)
	v, err := webhook.NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(r.body, r.header); err != nil {
		t.Errorf("the proxied delivery does not verify: %v", err)
	}
	a := e.waitAttempts(msg.ID, 1)[0]
	if a.Status != hookbridge.StatusSuccess || a.StatusCode != http.StatusOK {
		t.Errorf("attempt %+v, want a success", a)
	}
	e.waitStatus(msg.ID, ep.ID, hookbridge.StatusSuccess)
	if seen := proxy.requests(); len(seen) != 1 || seen[0] != srv.URL+"/hooks" {
		t.Errorf("the proxy was asked for %v, want exactly %s", seen, srv.URL+"/hooks")
	}
}

// TestProxyRefusalIsAFailedAttempt: a destination the proxy refuses is a
// failed attempt with the proxy's answer, retried like any other, and the
// receiver is never reached.
func TestProxyRefusalIsAFailedAttempt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv, got := receiver(t, ok)
	ep, _ := e.endpoint(srv.URL)
	msg := e.publish(`{}`)
	proxy := newEgressProxy(t, true)
	e.start(dispatch.Config{Proxy: proxy.url(t)})

	a := e.waitAttempts(msg.ID, 1)[0]
	if a.Status != hookbridge.StatusFail || a.StatusCode != http.StatusForbidden || !strings.Contains(a.Response, "denied by policy") {
		t.Errorf("attempt %+v, want a failed 403 with the proxy's answer", a)
	}
	e.waitStatus(msg.ID, ep.ID, hookbridge.StatusSending)
	// The attempt is recorded once the proxy has answered: a request that
	// reached the receiver would be in got by now.
	if len(got) != 0 {
		t.Error("the receiver was reached past a refusing proxy")
	}
}

func TestParseProxy(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		"http://127.0.0.1:4750", "https://proxy.internal", "socks5://user:pw@10.0.0.2:1080", "socks5h://proxy:1080", "http://proxy:3128/",
	} {
		if _, err := dispatch.ParseProxy(raw); err != nil {
			t.Errorf("ParseProxy(%q): %v", raw, err)
		}
	}
	for _, raw := range []string{
		"", "proxy:3128", "ftp://proxy:21", "http://", "http://proxy:3128/path", "http://proxy:3128?x=1", "://x",
	} {
		if _, err := dispatch.ParseProxy(raw); err == nil {
			t.Errorf("ParseProxy(%q) took it", raw)
		}
	}
}
