// Package netguard keeps outbound deliveries away from addresses they must
// not reach: loopback, private, link-local, unique-local, cloud metadata and
// other special-purpose ranges — unless the operator allow-lists them.
//
// The check that matters is the one on the address actually dialled: wire
// Guard.Control into the net.Dialer of every outbound HTTP client, so that a
// hostname resolving to 127.0.0.1, a DNS answer that changes between checks
// (rebinding) or a redirect cannot get around it. CheckURL is an early,
// friendlier check for URLs whose host is a literal IP (or "localhost"), so
// that such an endpoint is refused when it is created rather than on its
// first delivery. A Guard made with HTTPSOnly also keeps deliveries off
// plain text: only https, and the brokers' TLS schemes (amqps, tls for NATS,
// rediss, kafkas), are allowed.
//
// Deliveries to brokers (AMQP, NATS, Redis, Kafka) are guarded the same way:
// their clients dial through a net.Dialer with Control, so every connection
// they open, to the broker the URL names or to one it redirects them to
// (Kafka's metadata), is checked.
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"

	"github.com/hookbridge/hookbridge"
)

// blocked lists the special-purpose ranges deliveries may not reach by
// default, with the reason reported when an address falls into one.
// Sources: IANA IPv4 and IPv6 Special-Purpose Address Registries.
var blocked = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (CGNAT)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local (includes cloud metadata 169.254.169.254)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private network"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private network"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("fc00::/7"), "unique-local (includes cloud metadata fd00:ec2::254)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// Translation prefixes embed an IPv4 address in an IPv6 one; the embedded
// address is checked as well, so ::ffff:127.0.0.1 or 64:ff9b::a00:1 are
// judged as the IPv4 addresses they lead to.
var (
	nat64   = netip.MustParsePrefix("64:ff9b::/96")
	compat  = netip.MustParsePrefix("::/96") // deprecated IPv4-compatible form
	sixToFo = netip.MustParsePrefix("2002::/16")
)

// Guard decides which IP addresses outbound requests may reach, and with
// HTTPSOnly which URLs. The zero value blocks every special-purpose range,
// allows nothing extra and takes http and https. A Guard is safe for
// concurrent use; it is not changed after it is made.
type Guard struct {
	allow     []netip.Prefix
	httpsOnly bool
}

// New returns a Guard that also allows the given prefixes (the operator's
// --allow-private list).
func New(allow ...netip.Prefix) *Guard {
	g := &Guard{allow: make([]netip.Prefix, len(allow))}
	for i, p := range allow {
		g.allow[i] = p.Masked()
	}
	return g
}

// HTTPSOnly returns a Guard like g that also refuses every URL whose scheme
// is not encrypted (serve --https-only): https, amqps, tls (NATS over TLS),
// rediss and kafkas pass; http, amqp, nats, redis and kafka do not. Endpoints with such a URL are refused when they are
// created or changed, and a delivery to one stored before is refused
// without being sent (CheckScheme).
func (g *Guard) HTTPSOnly() *Guard {
	c := *g
	c.httpsOnly = true
	return &c
}

// ErrNotHTTPS is wrapped by the errors of a Guard made with HTTPSOnly for a
// URL that is not https.
var ErrNotHTTPS = errors.New("only https URLs (and brokers over TLS: amqps, tls for NATS, rediss, kafkas) are allowed: " +
	"this server runs with --https-only")

// CheckScheme checks the scheme of a URL about to be requested: with
// HTTPSOnly, anything but https and the brokers' TLS schemes is refused.
func (g *Guard) CheckScheme(scheme string) error {
	if g.httpsOnly && !hookbridge.SecureScheme(scheme) {
		return ErrNotHTTPS
	}
	return nil
}

// ParseCIDRs parses a comma-separated list of CIDRs. A bare address is taken
// as a single-host prefix. Blank entries are ignored.
func ParseCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("invalid CIDR %q: %w", f, err)
			}
			out = append(out, p)
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("invalid address %q: %w", f, err)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// BlockedError reports an address that a delivery may not reach.
type BlockedError struct {
	Addr   netip.Addr
	Reason string
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("address %s is not allowed (%s); an operator can allow it with --allow-private", e.Addr, e.Reason)
}

// Check returns a *BlockedError if addr may not be reached, else nil.
func (g *Guard) Check(addr netip.Addr) error {
	if !addr.IsValid() {
		return &BlockedError{Addr: addr, Reason: "invalid address"}
	}
	addr = addr.WithZone("")
	for _, a := range candidates(addr) {
		if g.allowed(a) {
			continue
		}
		for _, b := range blocked {
			if b.prefix.Contains(a) {
				return &BlockedError{Addr: addr, Reason: b.why}
			}
		}
	}
	return nil
}

// candidates returns addr unmapped, plus any IPv4 address embedded in it by
// a translation prefix: each must pass.
func candidates(addr netip.Addr) []netip.Addr {
	addr = addr.Unmap()
	out := []netip.Addr{addr}
	if !addr.Is6() {
		return out
	}
	b := addr.As16()
	switch {
	case nat64.Contains(addr), compat.Contains(addr) && addr != netip.IPv6Unspecified() && addr != netip.IPv6Loopback():
		out = append(out, netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFo.Contains(addr):
		out = append(out, netip.AddrFrom4([4]byte(b[2:6])))
	}
	return out
}

func (g *Guard) allowed(a netip.Addr) bool {
	for _, p := range g.allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Control is a net.Dialer Control function: it runs after name resolution,
// on the address about to be dialled, and refuses blocked ones. This is the
// check that DNS rebinding and redirects cannot get around.
func (g *Guard) Control(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("netguard: %w", err)
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("netguard: dialled address %q is not an IP: %w", host, err)
	}
	return g.Check(addr)
}

// ErrBadURL is wrapped by CheckURL's errors for URLs that are not endpoint
// URLs (hookbridge.ParseEndpointURL).
var ErrBadURL = hookbridge.ErrEndpointURL

// CheckURL checks an endpoint URL when it is created or changed: it must be
// an endpoint URL of a known scheme (hookbridge.ParseEndpointURL: http,
// https or a broker's), an encrypted one with HTTPSOnly, and a host given
// as a literal IP — or the name localhost — must be allowed. Other
// hostnames pass here; their resolved addresses are checked when dialled.
func (g *Guard) CheckURL(raw string) error {
	u, err := hookbridge.ParseEndpointURL(raw)
	if err != nil {
		return err
	}
	if err := g.CheckScheme(u.Scheme); err != nil {
		return fmt.Errorf("%w: %w", ErrBadURL, err)
	}
	return g.CheckHost(u.Host)
}

// CheckHost checks the host of a URL as written: a literal IP, or the name
// localhost, must be allowed. Other names pass; their addresses are checked
// when dialled (Control).
func (g *Guard) CheckHost(host string) error {
	if addr, err := netip.ParseAddr(host); err == nil {
		return g.Check(addr)
	}
	lower := strings.ToLower(strings.TrimSuffix(host, "."))
	if lower == "localhost" || strings.HasSuffix(lower, ".localhost") {
		// RFC 6761: these names always resolve to loopback.
		if g.Check(netip.MustParseAddr("127.0.0.1")) != nil && g.Check(netip.IPv6Loopback()) != nil {
			return &BlockedError{Addr: netip.MustParseAddr("127.0.0.1"), Reason: "loopback (" + host + ")"}
		}
	}
	return nil
}
