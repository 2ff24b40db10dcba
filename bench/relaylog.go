package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hookbridge/hookbridge/internal/storekit"
)

// relayLog is what makes --durable-relay's relay durable: an append-only
// file, group-committed. Records queued while a write and its sync are
// under way go out together in the next one (one write, one fsync),
// so that, as in Hookbridge's writer, one sync covers every caller
// waiting. Before each write it gathers as Hookbridge's writer does
// (storekit.Gather): it waits out the rest of storekit.GatherWindow after
// the last write began, unless storekit.GatherEnough records are queued
// first, so that at a paced rate a sync covers a few milliseconds' records
// rather than each alone. It keeps no index and is never read back: it is
// the least a gateway can write and still say that an accepted message is
// on disk.
type relayLog struct {
	f *os.File

	mu      sync.Mutex
	buf     []byte         // records not yet written
	waiters []chan<- error // of the records in buf that wait for their sync
	closed  bool           // close has been called: no more records
	err     error          // the first failed write or sync; every later record fails with it
	kick    chan struct{}  // capacity 1: buf has records
	// enough is, while loop gathers, the number of queued records at
	// which add wakes it before its wait is over; 0 otherwise, when every
	// add signals.
	enough int
	done   chan struct{} // closed when loop has returned
}

// openRelayLog creates the log file in dir and starts the goroutine that
// writes it; close stops it.
func openRelayLog(dir string) (*relayLog, error) {
	f, err := os.OpenFile(filepath.Join(dir, "relay.log"), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("relay log: %w", err)
	}
	l := &relayLog{f: f, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go l.loop()
	return l, nil
}

// errLogClosed is the answer to a record added after close.
var errLogClosed = errors.New("relay log: closed")

// add queues a record made of parts and returns the channel that receives
// nil once it is on disk, or the error that kept it from being.
func (l *relayLog) add(parts ...[]byte) <-chan error {
	res := make(chan error, 1)
	l.mu.Lock()
	switch {
	case l.err != nil:
		res <- l.err
	case l.closed:
		res <- errLogClosed
	default:
		for _, p := range parts {
			l.buf = append(l.buf, p...)
		}
		l.buf = append(l.buf, '\n')
		l.waiters = append(l.waiters, res)
	}
	wake := l.enough == 0 || len(l.waiters) == l.enough
	l.mu.Unlock()
	if wake {
		l.signal()
	}
	return res
}

// append adds a record and waits until it is on disk.
func (l *relayLog) append(parts ...[]byte) error { return <-l.add(parts...) }

// signal wakes loop, unless a wake-up is already pending.
func (l *relayLog) signal() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// loop writes and syncs what has been queued, until close.
func (l *relayLog) loop() {
	defer close(l.done)
	var (
		buf   []byte
		g     storekit.Gather
		timer = time.NewTimer(0)
	)
	<-timer.C
	for range l.kick {
		l.mu.Lock()
		for !l.closed && len(l.waiters) > 0 {
			wait, enough := g.Wait(len(l.waiters))
			if wait <= 0 || len(l.waiters) >= enough {
				break
			}
			// A signal waiting in kick is for a record already queued:
			// drop it, or it would end the wait at once.
			l.enough = enough
			select {
			case <-l.kick:
			default:
			}
			l.mu.Unlock()
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-l.kick:
				timer.Stop()
			}
			l.mu.Lock()
			l.enough = 0
		}
		if len(l.waiters) > 0 {
			g.Began(len(l.waiters))
		}
		buf, l.buf = l.buf, buf[:0]
		waiters := l.waiters
		l.waiters = nil
		closed := l.closed
		l.mu.Unlock()
		if len(waiters) > 0 {
			_, err := l.f.Write(buf)
			if err == nil {
				err = l.f.Sync()
			}
			if err != nil {
				err = fmt.Errorf("relay log: %w", err)
				l.mu.Lock()
				if l.err == nil {
					l.err = err
				}
				l.mu.Unlock()
			}
			for _, w := range waiters {
				w <- err
			}
		}
		if closed {
			return
		}
	}
}

// close writes what is queued, stops the goroutine and closes the file. It
// returns the first failed write or sync.
func (l *relayLog) close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.signal()
	<-l.done
	return errors.Join(l.err, l.f.Close())
}
