package dispatch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge/netguard"
)

// TestFailureTextShapes: failureText over errors of the shapes the HTTP
// transport returns, built as it builds them, including those a test
// cannot provoke at will (a resolver on a private address, a proxy that
// refuses CONNECT, a transport error naming the address it dialled).
func TestFailureTextShapes(t *testing.T) {
	t.Parallel()
	u, _ := url.Parse("https://receiver.example/hooks")
	dial := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 443}, Err: err}
	}
	for _, c := range []struct {
		err  error
		want string
	}{
		{&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "receiver.example", Server: "10.0.0.2:53", IsNotFound: true}},
			"could not resolve host receiver.example: no such host"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "i/o timeout", Name: "receiver.example", Server: "10.0.0.2:53", IsTimeout: true}},
			"could not resolve host receiver.example: the lookup timed out"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "server misbehaving", Name: "receiver.example", Server: "[fd00::53]:53", IsTemporary: true}},
			"could not resolve host receiver.example: temporary failure of the lookup"},
		{dial(&netguard.BlockedError{Addr: netip.MustParseAddr("10.1.2.3"), Reason: "private network"}),
			"refused: host receiver.example resolves to an address that is not allowed (private network); an operator can allow it with --allow-private"},
		{dial(os.NewSyscallError("connect", syscall.ECONNREFUSED)), "connection refused by receiver.example:443"},
		{dial(os.NewSyscallError("connect", syscall.EHOSTUNREACH)), "host unreachable: receiver.example:443"},
		{dial(os.NewSyscallError("read", syscall.ECONNRESET)), "connection reset by receiver.example:443"},
		{dial(errors.New("i/o timeout 10.1.2.3:443")), "connection to receiver.example:443 failed: i/o timeout [address]"},
		{context.DeadlineExceeded, "timed out after 15s"},
		{errors.New("net/http: TLS handshake timeout"), "TLS handshake timed out"},
		{&net.OpError{Op: "proxyconnect", Net: "tcp", Err: errors.New("403 Forbidden")}, "could not reach the egress proxy: 403 Forbidden"},
		{&net.OpError{Op: "proxyconnect", Net: "tcp", Err: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "proxy.internal", Server: "10.0.0.2:53", IsNotFound: true}}},
			"could not reach the egress proxy: could not resolve its name: no such host"},
		{fmt.Errorf("dispatch: dial %s: %w (%s)", "10.1.2.3:443", errNotProxy, "10.0.0.9:3128"), "refused: " + errNotProxy.Error()},
		{errors.New("unexpected reply from 192.168.7.7:8443 and [2001:db8::1]:443 at 03:28:53"), "unexpected reply from [address] and [address] at 03:28:53"},
	} {
		if got := failureText(c.err, u, 15*time.Second); got != c.want {
			t.Errorf("failureText(%q)\n = %q\nwant %q", c.err, got, c.want)
		}
		if got := failureText(c.err, u, 15*time.Second); strings.Contains(got, "10.0.0.2") || strings.Contains(got, "10.1.2.3") {
			t.Errorf("failureText(%q) = %q names an address", c.err, got)
		}
	}
	// A URL whose host is itself the refused address may name it.
	lit, _ := url.Parse("http://10.1.2.3/hooks")
	got := failureText(dial(&netguard.BlockedError{Addr: netip.MustParseAddr("10.1.2.3"), Reason: "private network"}), lit, time.Second)
	if !strings.Contains(got, "address 10.1.2.3 is not allowed (private network)") {
		t.Errorf("refused literal address: %q", got)
	}
}
