package brokertest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Relay forwards TCP connections from a loopback port to a broker, so that
// a test can cut the broker off (Cut: the port is closed and every
// connection through it dropped) and bring it back on the same port
// (Restore), while the broker itself keeps serving the other tests. It
// counts the connections it accepted. Its goroutines end with Cut, and all
// of them when the test ends.
type Relay struct {
	t      testing.TB
	target string
	addr   string // 127.0.0.1:port, kept across Cut and Restore

	mu       sync.Mutex
	ln       net.Listener // nil while cut
	conns    map[net.Conn]struct{}
	accepted int
	wg       sync.WaitGroup
}

// NewRelay starts a relay to target (host:port), listening.
func NewRelay(t testing.TB, target string) *Relay {
	t.Helper()
	r := ClosedRelay(t, target)
	r.Restore()
	return r
}

// ClosedRelay returns a relay to target whose port is not listening yet:
// connections to it are refused until Restore.
func ClosedRelay(t testing.TB, target string) *Relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Relay{t: t, target: target, addr: ln.Addr().String(), conns: make(map[net.Conn]struct{})}
	ln.Close()
	t.Cleanup(r.Cut)
	return r
}

// Addr is the relay's address, 127.0.0.1:port.
func (r *Relay) Addr() string { return r.addr }

// Port is the relay's port.
func (r *Relay) Port() string {
	_, port, _ := net.SplitHostPort(r.addr)
	return port
}

// Accepted is how many connections the relay has accepted so far.
func (r *Relay) Accepted() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.accepted
}

// Open is how many connections through the relay are open now.
func (r *Relay) Open() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.conns) / 2
}

// Restore listens on the relay's port again (or for the first time).
func (r *Relay) Restore() {
	r.t.Helper()
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		r.t.Fatalf("relay: listen again on %s: %v", r.addr, err)
	}
	r.mu.Lock()
	r.ln = ln
	r.mu.Unlock()
	r.wg.Go(func() { r.accept(ln) })
}

// Cut closes the port and every connection through it, and waits for the
// relay's goroutines to end.
func (r *Relay) Cut() {
	r.mu.Lock()
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *Relay) accept(ln net.Listener) {
	for {
		in, err := ln.Accept()
		if err != nil {
			return // closed by Cut
		}
		out, err := net.Dial("tcp", r.target)
		if err != nil {
			in.Close()
			continue
		}
		r.mu.Lock()
		if r.ln != ln { // cut meanwhile
			r.mu.Unlock()
			in.Close()
			out.Close()
			return
		}
		r.accepted++
		r.conns[in], r.conns[out] = struct{}{}, struct{}{}
		r.mu.Unlock()
		r.wg.Go(func() { r.pipe(in, out) })
		r.wg.Go(func() { r.pipe(out, in) })
	}
}

// pipe copies src to dst until either side ends, then closes both.
func (r *Relay) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src) // until EOF, a reset or a cut
	dst.Close()
	src.Close()
	r.mu.Lock()
	delete(r.conns, dst)
	delete(r.conns, src)
	r.mu.Unlock()
}
