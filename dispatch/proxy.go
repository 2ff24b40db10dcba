package dispatch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"
)

// ParseProxy parses the address of an egress proxy for Config.Proxy:
// http://host:port, https://host:port or socks5://host:port (socks5h too),
// with optional user:password for proxies that ask for them.
func ParseProxy(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("proxy address: %w", err)
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return nil, fmt.Errorf("proxy address %q: the scheme must be http, https or socks5", raw)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("proxy address %q: missing host", raw)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("proxy address %q: want scheme://host:port and nothing after it", raw)
	}
	return u, nil
}

// proxyAddr is the host:port the HTTP transport dials for proxy u, with
// the scheme's default port when u has none.
func proxyAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "socks5", "socks5h":
			port = "1080"
		default:
			port = "80"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// errNotProxy refuses a dial, with a proxy set, to anything but the proxy.
var errNotProxy = errors.New("with a proxy, deliveries are sent through it only")

// proxyDial returns the dial function of a transport whose every request
// goes through the proxy u: it dials the proxy and nothing else. The proxy
// is the operator's own and is not judged by the Guard (it usually lives
// on a private address); which receivers may be reached is then the
// proxy's decision, since it resolves their names and dials them.
func proxyDial(u *url.URL) func(ctx context.Context, network, addr string) (net.Conn, error) {
	want := proxyAddr(u)
	d := &net.Dialer{KeepAlive: 30 * time.Second}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != want {
			return nil, fmt.Errorf("dispatch: dial %s: %w (%s)", addr, errNotProxy, want)
		}
		return d.DialContext(ctx, network, addr)
	}
}
