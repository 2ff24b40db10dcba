package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// relayLog is what makes --durable-relay's relay durable: an append-only
// file, group-committed. Records queued while a write and its sync are
// under way go out together in the next one (one write, one fsync),
// so that, as in Hookbridge's writer, one sync covers every caller
// waiting. It keeps no index and is never read back: it is the least a
// gateway can write and still say that an accepted message is on disk.
type relayLog struct {
	f *os.File

	mu      sync.Mutex
	buf     []byte         // records not yet written
	waiters []chan<- error // of the records in buf that wait for their sync
	closed  bool           // close has been called: no more records
	err     error          // the first failed write or sync; every later record fails with it
	kick    chan struct{}  // capacity 1: buf has records
	done    chan struct{}  // closed when loop has returned
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
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
	return res
}

// append adds a record and waits until it is on disk.
func (l *relayLog) append(parts ...[]byte) error { return <-l.add(parts...) }

// loop writes and syncs what has been queued, until close.
func (l *relayLog) loop() {
	defer close(l.done)
	var buf []byte
	for range l.kick {
		l.mu.Lock()
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
	select {
	case l.kick <- struct{}{}:
	default:
	}
	<-l.done
	return errors.Join(l.err, l.f.Close())
}
