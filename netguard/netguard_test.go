package netguard

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	def := New()
	loop := New(netip.MustParsePrefix("127.0.0.1/32"))
	tests := []struct {
		g       *Guard
		addr    string
		blocked bool
	}{
		{def, "93.184.216.34", false},
		{def, "2606:2800:220:1:248:1893:25c8:1946", false},
		{def, "127.0.0.1", true},
		{def, "127.5.6.7", true},
		{def, "::1", true},
		{def, "10.1.2.3", true},
		{def, "172.16.0.1", true},
		{def, "172.31.255.255", true},
		{def, "172.32.0.1", false},
		{def, "192.168.1.1", true},
		{def, "169.254.169.254", true}, // cloud metadata
		{def, "fd00:ec2::254", true},   // AWS IPv6 metadata
		{def, "fe80::1", true},
		{def, "fe80::1%eth0", true},
		{def, "fc00::1", true},
		{def, "0.0.0.0", true},
		{def, "::", true},
		{def, "100.64.0.1", true},
		{def, "224.0.0.1", true},
		{def, "::ffff:127.0.0.1", true}, // IPv4-mapped IPv6
		{def, "::ffff:10.0.0.1", true},
		{def, "::ffff:93.184.216.34", false},
		{def, "64:ff9b::7f00:1", true}, // NAT64 of 127.0.0.1
		{def, "2002:7f00:1::1", true},  // 6to4 of 127.0.0.1
		{def, "::127.0.0.1", true},     // IPv4-compatible
		{loop, "127.0.0.1", false},
		{loop, "::ffff:127.0.0.1", false},
		{loop, "127.0.0.2", true},
		{loop, "10.0.0.1", true},
	}
	for _, tt := range tests {
		err := tt.g.Check(netip.MustParseAddr(tt.addr))
		if got := err != nil; got != tt.blocked {
			t.Errorf("Check(%s) blocked = %v (%v), want %v", tt.addr, got, err, tt.blocked)
		}
		var be *BlockedError
		if err != nil && !errors.As(err, &be) {
			t.Errorf("Check(%s) error %T is not *BlockedError", tt.addr, err)
		}
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	def := New()
	tests := []struct {
		url     string
		wantErr bool
	}{
		{"https://example.com/hook", false},
		{"http://example.com:8080/hook?x=1", false},
		{"https://93.184.216.34/hook", false},
		{"http://127.0.0.1:9000/", true},
		{"http://[::1]/", true},
		{"http://[::ffff:127.0.0.1]/", true},
		{"http://10.0.0.5/", true},
		{"http://169.254.169.254/latest/meta-data/", true},
		{"http://localhost:8000/", true},
		{"http://api.localhost/", true},
		{"ftp://example.com/", true},
		{"example.com/hook", true},
		{"https:///nohost", true},
		{"https://user:pw@example.com/", true},
		{"://bad", true},
		// Broker URLs: the same host checks; their syntax is
		// hookbridge.ParseEndpointURL's.
		{"amqp://user:pw@mq.example.com/?exchange=x", false},
		{"nats://nats.example.com/orders", false},
		{"redis://:pw@cache.example.com/0?stream=s", false},
		{"kafka://kafka.example.com:9092/orders", false},
		{"amqp://guest:guest@127.0.0.1:5672/?exchange=x", true},
		{"nats://localhost:4222/orders", true},
		{"redis://169.254.169.254/0?stream=s", true},
		{"kafka://[fd00:ec2::254]:9092/t", true},
		{"amqp://mq.example.com/", true}, // no exchange or routing key
	}
	for _, tt := range tests {
		if err := def.CheckURL(tt.url); (err != nil) != tt.wantErr {
			t.Errorf("CheckURL(%q) = %v, want error %v", tt.url, err, tt.wantErr)
		}
	}
	allowLoop := New(netip.MustParsePrefix("127.0.0.0/8"))
	if err := allowLoop.CheckURL("http://localhost:8000/"); err != nil {
		t.Errorf("localhost with loopback allowed: %v", err)
	}
}

func TestHTTPSOnly(t *testing.T) {
	t.Parallel()
	allow := New(netip.MustParsePrefix("127.0.0.0/8"))
	strict := allow.HTTPSOnly()
	for _, tt := range []struct {
		url     string
		wantErr bool
	}{
		{"https://example.com/hook", false},
		{"HTTPS://example.com/hook", false},
		{"https://127.0.0.1:9000/", false}, // the allow-list still applies
		{"http://example.com/hook", true},
		{"https://10.0.0.5/", true},
		{"amqps://u:p@mq.example.com/?exchange=x", false},
		{"tls://nats.example.com/orders", false},
		{"rediss://cache.example.com/0?stream=s", false},
		{"kafkas://kafka.example.com/orders", false},
		{"amqp://u:p@mq.example.com/?exchange=x", true},
		{"nats://nats.example.com/orders", true},
		{"redis://cache.example.com/0?stream=s", true},
		{"kafka://kafka.example.com/orders", true},
	} {
		err := strict.CheckURL(tt.url)
		if (err != nil) != tt.wantErr {
			t.Errorf("CheckURL(%q) = %v, want error %v", tt.url, err, tt.wantErr)
		}
		if tt.wantErr && !strings.HasPrefix(tt.url, "https:") && !errors.Is(err, ErrNotHTTPS) {
			t.Errorf("CheckURL(%q) = %v, want ErrNotHTTPS", tt.url, err)
		}
	}
	if err := strict.CheckScheme("http"); !errors.Is(err, ErrNotHTTPS) {
		t.Errorf("CheckScheme(http) = %v, want ErrNotHTTPS", err)
	}
	if err := strict.CheckScheme("https"); err != nil {
		t.Errorf("CheckScheme(https) = %v", err)
	}
	// The guard it was made from is unchanged.
	if err := allow.CheckURL("http://example.com/hook"); err != nil {
		t.Errorf("the original guard refuses http: %v", err)
	}
	if err := allow.CheckScheme("http"); err != nil {
		t.Errorf("the original guard refuses the http scheme: %v", err)
	}
}

func TestParseCIDRs(t *testing.T) {
	t.Parallel()
	got, err := ParseCIDRs(" 127.0.0.1/32, 10.0.0.0/8,,::1 ")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.1/32", "10.0.0.0/8", "::1/128"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("prefix %d = %s, want %s", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "not-an-ip", "1.2.3"} {
		if _, err := ParseCIDRs(bad); err == nil {
			t.Errorf("ParseCIDRs(%q) accepted", bad)
		}
	}
}

// client returns an HTTP client dialling through g, as the dispatcher does.
func client(g *Guard) *http.Client {
	d := &net.Dialer{Timeout: 2 * time.Second, Control: g.Control}
	return &http.Client{
		Transport: &http.Transport{DialContext: d.DialContext, Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Timeout: 5 * time.Second,
	}
}

// TestControlRefusesResolvedLoopback dials a hostname that resolves to
// 127.0.0.1: the literal-URL check lets it pass, the dial-time check must not.
func TestControlRefusesResolvedLoopback(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	// "localhost" resolves through /etc/hosts to a loopback address on every
	// machine; use it as the stand-in for an attacker's DNS name.
	_, err := client(New()).Get("http://localhost:" + port + "/")
	var be *BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("dial to a name resolving to loopback: err = %v, want *BlockedError", err)
	}
	resp, err := client(New(netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))).Get("http://localhost:" + port + "/")
	if err != nil {
		t.Fatalf("allow-listed loopback refused: %v", err)
	}
	resp.Body.Close()
}

// TestRedirectToPrivateNotFollowed: a public-looking receiver that redirects
// to a private address must not lead the client there, whether or not
// redirects are followed.
func TestRedirectToPrivateNotFollowed(t *testing.T) {
	t.Parallel()
	var hit atomic.Bool
	private := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit.Store(true) }))
	defer private.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, private.URL, http.StatusFound)
	}))
	defer redirector.Close()

	// The redirector stands for a public receiver, so its exact address is
	// allowed; the private target (same IP, other port) is not: allow by
	// port is impossible, so give the redirect target a different loopback IP.
	g := New(netip.MustParsePrefix("127.0.0.1/32"))
	c := client(g)
	resp, err := c.Get(redirector.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d, want the 302 itself (redirects are not followed)", resp.StatusCode)
	}
	if hit.Load() {
		t.Fatal("redirect was followed")
	}

	// Even a client that follows redirects cannot reach a blocked address:
	// the dial-time check applies to the redirect target.
	follow := client(g)
	follow.CheckRedirect = nil
	target := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit.Store(true) }))
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.2: %v", err)
	}
	target.Listener = ln
	target.Start()
	defer target.Close()
	redirect2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	}))
	defer redirect2.Close()
	_, err = follow.Get(redirect2.URL)
	var be *BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("followed redirect to 127.0.0.2: err = %v, want *BlockedError", err)
	}
	if hit.Load() {
		t.Fatal("blocked redirect target was reached")
	}
}
