package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hookbridge/hookbridge/internal/storekit"
)

// relayLog is what makes --durable-relay's relay durable: an append-only
// file, group-committed in the shape of Hookbridge's SQLite writer. Its
// records go through a storekit.GroupQueue to one goroutine that writes
// what is queued with one write and one fsync and then answers every
// caller, gathering before each write as the writer does (storekit.Gather:
// the rest of storekit.GatherWindow after the last write began, unless
// storekit.GatherEnough records are queued first), so that at a paced
// rate one sync covers a few milliseconds' records rather than each
// alone. A message's record is waited for (append); a delivery's end is
// not (add): a recorder goroutine gathers the ends queued meanwhile into
// one record and waits for it, as Hookbridge's recorder does for its
// workers' results. The log keeps no index and is never read back: it is
// the least a gateway can write and still say that an accepted message is
// on disk.
type relayLog struct {
	f *os.File
	q *storekit.GroupQueue[struct{}, *logRecord]

	// later carries the records nobody waits for to the recorder; mu
	// guards it against close (add holds it for reading).
	mu       sync.RWMutex
	later    chan []byte
	closed   bool
	recorded chan struct{} // closed when the recorder has returned

	errMu sync.Mutex
	err   error // the first failed write or sync; every later record fails with it
}

// logRecord is one record queued for the log: whole lines, each ending
// in '\n'.
type logRecord struct {
	storekit.Waiter[struct{}]
	data []byte
}

// openRelayLog creates the log file in dir and starts the goroutines that
// write it; close stops them.
func openRelayLog(dir string) (*relayLog, error) {
	f, err := os.OpenFile(filepath.Join(dir, "relay.log"), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("relay log: %w", err)
	}
	l := &relayLog{
		f:        f,
		q:        storekit.NewGroupQueue[struct{}, *logRecord](),
		later:    make(chan []byte, 1024),
		recorded: make(chan struct{}),
	}
	go l.loop()
	go l.record()
	return l, nil
}

// errLogClosed is the answer to a record added after close.
var errLogClosed = errors.New("relay log: closed")

// append writes a record made of parts and returns once it is on disk, or
// with the error that kept it from being.
func (l *relayLog) append(parts ...[]byte) error {
	_, err := l.q.Submit(context.Background(), &logRecord{data: line(nil, parts)})
	if errors.Is(err, storekit.ErrClosed) {
		return errLogClosed
	}
	return err
}

// add queues a record made of parts without waiting for it: the recorder
// writes it with the next group, and a failure is close's error. Records
// added after close are dropped.
func (l *relayLog) add(parts ...[]byte) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if !l.closed {
		l.later <- line(nil, parts)
	}
}

// line appends parts and a newline to buf.
func line(buf []byte, parts [][]byte) []byte {
	for _, p := range parts {
		buf = append(buf, p...)
	}
	return append(buf, '\n')
}

// record is the recorder: it writes the records added without waiting,
// those queued meanwhile together, until close.
func (l *relayLog) record() {
	defer close(l.recorded)
	for rec := range l.later {
		data := rec
	gather:
		for {
			select {
			case more, ok := <-l.later:
				if !ok {
					break gather
				}
				data = append(data, more...)
			default:
				break gather
			}
		}
		if _, err := l.q.Submit(context.Background(), &logRecord{data: data}); err != nil {
			l.fail(err)
		}
	}
}

// loop writes and syncs what has been queued, until the queue is closed
// and drained.
func (l *relayLog) loop() {
	defer l.q.Exit()
	var (
		batch []*logRecord
		buf   []byte
		ok    bool
		g     storekit.Gather
	)
	gather := func(pending []*logRecord) (time.Duration, int) { return g.Wait(len(pending)) }
	for {
		if batch, ok = l.q.Take(batch, 0, gather); !ok {
			return
		}
		g.Began(len(batch))
		buf = buf[:0]
		taken := batch[:0]
		for _, r := range batch {
			if r.Take() {
				buf = append(buf, r.data...)
				taken = append(taken, r)
			}
		}
		err := l.failed()
		if err == nil {
			if _, err = l.f.Write(buf); err == nil {
				err = l.f.Sync()
			}
			if err != nil {
				err = fmt.Errorf("relay log: %w", err)
				l.fail(err)
			}
		}
		for _, r := range taken {
			r.Answer(struct{}{}, err)
		}
		clear(batch) // let the records go
	}
}

// fail keeps the first failed write or sync.
func (l *relayLog) fail(err error) {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	if l.err == nil {
		l.err = err
	}
}

func (l *relayLog) failed() error {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	return l.err
}

// close writes what is queued, stops the goroutines and closes the file.
// It returns the first failed write or sync.
func (l *relayLog) close() error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.later)
	}
	l.mu.Unlock()
	<-l.recorded
	l.q.Close()
	return errors.Join(l.failed(), l.f.Close())
}
