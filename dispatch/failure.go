package dispatch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/hookbridge/hookbridge/netguard"
)

// failureText says why a request to u got no response, as an attempt
// records it. The attempt is shown to whoever owns the endpoint — a
// consumer in its portal included — so it says what failed and for which
// host the URL names, and never the infrastructure in between: not the
// resolver that was asked, not the addresses a name resolved to, not the
// egress proxy's address. The error itself goes to the log (debug).
func failureText(err error, u *url.URL, timeout time.Duration) string {
	return failureAt(err, u.Hostname(), hostPort(u), timeout)
}

// failureAt is failureText for a URL naming host, and host:port as target.
// Broker transports use it with their URL's host and port.
func failureAt(err error, host, target string, timeout time.Duration) string {
	var (
		op      *net.OpError
		dns     *net.DNSError
		blocked *netguard.BlockedError
	)
	switch {
	case errors.As(err, &blocked):
		if addr, perr := netip.ParseAddr(host); perr == nil && addr.Unmap() == blocked.Addr.Unmap() {
			return "refused: " + blocked.Error() // the URL's own address
		}
		return fmt.Sprintf("refused: host %s resolves to an address that is not allowed (%s); "+
			"an operator can allow it with --allow-private", host, blocked.Reason)
	case errors.Is(err, errNotProxy):
		return "refused: " + errNotProxy.Error()
	case errors.As(err, &op) && op.Op == "proxyconnect":
		return "could not reach the egress proxy: " + connFailure(op.Err, "the proxy", timeout)
	case errors.As(err, &dns):
		return "could not resolve host " + host + ": " + dnsFailure(dns)
	}
	return connFailure(err, target, timeout)
}

// connFailure says why a connection to target (host:port, or a name for
// it) failed, or why no response came over it.
func connFailure(err error, target string, timeout time.Duration) string {
	var (
		dns     *net.DNSError
		netErr  net.Error
		certErr *tls.CertificateVerificationError
		record  tls.RecordHeaderError
		alert   tls.AlertError
	)
	switch {
	case errors.As(err, &dns):
		return "could not resolve its name: " + dnsFailure(dns)
	case isTLSHandshakeTimeout(err):
		return "TLS handshake timed out"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("timed out after %s", timeout)
	case errors.As(err, &certErr):
		return "TLS handshake failed: " + strings.TrimPrefix(certErr.Err.Error(), "x509: ")
	case errors.As(err, &record):
		return "TLS handshake failed: the server did not answer with TLS"
	case errors.As(err, &alert), isX509(err), strings.Contains(err.Error(), "tls: "):
		return "TLS handshake failed: " + scrubAddresses(tlsMessage(err))
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused by " + target
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset by " + target
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "host unreachable: " + target
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable: " + target
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return target + " closed the connection without a response"
	}
	var op *net.OpError
	if errors.As(err, &op) {
		// Its Error() names the addresses dialled: say only what failed.
		return "connection to " + target + " failed: " + scrubAddresses(op.Err.Error())
	}
	return scrubAddresses(err.Error())
}

// dnsFailure is what went wrong with a lookup, without the resolver.
func dnsFailure(e *net.DNSError) string {
	switch {
	case e.IsNotFound:
		return "no such host"
	case e.IsTimeout:
		return "the lookup timed out"
	case e.IsTemporary:
		return "temporary failure of the lookup"
	}
	return "the lookup failed"
}

// isTLSHandshakeTimeout reports whether err is net/http's handshake
// timeout (Transport.TLSHandshakeTimeout), which names no type.
func isTLSHandshakeTimeout(err error) bool {
	return strings.Contains(err.Error(), "TLS handshake timeout")
}

func isX509(err error) bool {
	var (
		authority x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
	)
	return errors.As(err, &authority) || errors.As(err, &hostname) || errors.As(err, &invalid)
}

// tlsMessage is a TLS error's text from its "tls: " on, without the
// connection's addresses before it.
func tlsMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "tls: "); i >= 0 {
		msg = msg[i+len("tls: "):]
	}
	return msg
}

// hostPort is the host and port u names, the scheme's port when it names
// none.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := "80"
	if u.Scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// ipLike matches what may be an IP address, with a port or not, in an
// error text of unknown shape: dotted quads, and runs of hex groups and
// colons (bracketed or not). scrubAddresses checks each match.
var ipLike = regexp.MustCompile(`\[[0-9A-Za-z:.%]+\](:\d+)?|\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b|[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f]{0,4}){2,7}(%[0-9A-Za-z]+)?`)

// scrubAddresses hides the IP addresses in the text of an error whose
// shape is not known here, which may name what was dialled.
func scrubAddresses(s string) string {
	return ipLike.ReplaceAllStringFunc(s, func(m string) string {
		candidate := m
		if h, _, err := net.SplitHostPort(m); err == nil {
			candidate = h
		}
		if _, err := netip.ParseAddr(strings.Trim(candidate, "[]")); err != nil {
			return m // not an address after all (a time of day, say)
		}
		return "[address]"
	})
}
