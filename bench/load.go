package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// baseline measures the ceiling: the load client posting the same messages,
// with the same concurrency, straight to the receiver. pass names the
// measurement, which must be new to the receiver.
func (b *bench) baseline(ctx context.Context, n int, pass string) (float64, error) {
	target := b.recv.url + "/baseline"
	before := b.recv.baselineCount()
	var done atomic.Int64
	stop := b.progress.show("baseline "+pass, int64(n), done.Load, nil)
	t0 := time.Now()
	first := b.forEach(ctx, b.cfg.Concurrency, n, &done, func(w *clientWorker, i int) error {
		w.body = appendMessage(w.body[:0], i)
		_, err := w.post(ctx, target, w.body, "base_"+pass+"_"+strconv.Itoa(i))
		return err
	})
	elapsed := time.Since(t0)
	stop()
	if first != nil {
		return 0, fmt.Errorf("baseline: %w", first)
	}
	if got := b.recv.baselineCount() - before; got != int64(n) {
		return 0, fmt.Errorf("baseline: receiver got %d of %d requests", got, n)
	}
	return float64(n) / elapsed.Seconds(), nil
}

// forEach calls do for each i in [0, n) on that many client workers,
// counting each success in done, until ctx is done; a worker that meets an
// error takes no more. It returns the first error met.
func (b *bench) forEach(ctx context.Context, workers, n int, done *atomic.Int64, do func(w *clientWorker, i int) error) error {
	var (
		next  atomic.Int64
		errMu sync.Mutex
		first error
	)
	b.client.run(ctx, workers, "client", func(w *clientWorker) {
		for {
			i := int(next.Add(1)) - 1
			if i >= n || ctx.Err() != nil {
				return
			}
			if err := do(w, i); err != nil {
				errMu.Lock()
				first = cmp.Or(first, err)
				errMu.Unlock()
				return
			}
			done.Add(1)
		}
	})
	return first
}

// application is one application the bench created, with its endpoints: the
// receiver paths /e/<first> … /e/<first+fanout-1>.
type application struct {
	id        string
	first     int
	endpoints []string // their ids, endpoint first+k at k
}

// setup creates the applications and endpoints through the API.
func (b *bench) setup(ctx context.Context, base string) ([]application, error) {
	cfg := b.cfg
	apps := make([]application, cfg.Endpoints)
	run := strconv.FormatInt(time.Now().UnixMilli(), 36)
	var done atomic.Int64
	stop := b.progress.show("setup", int64(len(apps)), done.Load, nil)
	defer stop()
	first := b.forEach(ctx, min(cfg.Concurrency, 16), len(apps), &done, func(w *clientWorker, i int) error {
		return b.createApp(ctx, w, base, run, i, &apps[i])
	})
	if first != nil {
		return nil, fmt.Errorf("setup: %w", first)
	}
	return apps, ctx.Err()
}

func (b *bench) createApp(ctx context.Context, w *clientWorker, base, run string, i int, app *application) error {
	var out struct {
		ID string `json:"id"`
	}
	in := map[string]any{"name": fmt.Sprintf("hookbridge bench %s #%d", run, i)}
	if err := w.call(ctx, http.MethodPost, base+"/app", in, &out); err != nil {
		return err
	}
	app.id, app.first = out.ID, i*b.cfg.Fanout
	for f := range b.cfg.Fanout {
		in := map[string]any{
			"url":         b.endpointURL(app.first + f),
			"description": "hookbridge bench",
			"secret":      b.endpointSecret,
		}
		if b.cfg.Filter {
			in["filter"] = filterFor(f)
		}
		var ep struct {
			ID string `json:"id"`
		}
		if err := w.call(ctx, http.MethodPost, base+"/app/"+app.id+"/endpoint", in, &ep); err != nil {
			if strings.Contains(err.Error(), "private") || strings.Contains(err.Error(), "loopback") {
				err = fmt.Errorf("%w (start the server with --allow-private 127.0.0.1/32)", err)
			}
			return err
		}
		app.endpoints = append(app.endpoints, ep.ID)
	}
	return nil
}

// endpointURL is the URL of endpoint k: the receiver's path /e/<k>, or its
// destination on the broker the bench consumes from.
func (b *bench) endpointURL(k int) string {
	if b.consumer != nil {
		return b.consumer.endpointURL(k)
	}
	return b.recv.url + "/e/" + strconv.Itoa(k)
}

// filterFor is the --filter of an application's endpoint f: those at even
// places take every message, the others none.
func filterFor(f int) string {
	if f%2 == 0 {
		return filterMatch
	}
	return filterMiss
}

// owedPer is how many of an application's fanout endpoints each message is
// owed to: all, or with --filter those at even places.
func (ing *ingestResult) owedPer(fanout int) int {
	if ing.filtered {
		return (fanout + 1) / 2
	}
	return fanout
}

// owed reports whether a message is owed to the application's endpoint at
// place f.
func (ing *ingestResult) owed(f int) bool { return !ing.filtered || f%2 == 0 }

// teardown deletes the bench's applications from a database the bench does
// not own. It is best effort, with a bound of its own: the run's context may
// be over.
func (b *bench) teardown(srv fleet, apps []application) {
	if len(apps) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var next atomic.Int64
	b.client.run(ctx, min(b.cfg.Concurrency, 16), "client", func(w *clientWorker) {
		for {
			i := int(next.Add(1)) - 1
			if i >= len(apps) || ctx.Err() != nil {
				return
			}
			if err := w.call(ctx, http.MethodDelete, srv.base(0)+"/app/"+apps[i].id, nil, nil); err != nil {
				fmt.Fprintf(b.stderr, "hookbridge bench: delete application %s: %v\n", apps[i].id, err)
			}
		}
	})
}

// sent is one message of the load.
type sent struct {
	id  string        // the message id the server answered with; "" when refused
	at  time.Duration // since t0: when it was sent (under --rate, when it was due)
	app int32
}

// ingestResult is what the load client did.
type ingestResult struct {
	t0         time.Time
	msgs       []sent
	accepted   int
	refused    int
	lastAccept time.Duration // since t0
	firstError string
	filtered   bool // --filter: owedPer and owed say where messages are owed
}

// ingest sends n messages, cfg.Batch per request, spread over apps (and
// the servers of srv) round-robin, either as fast as the concurrency allows
// or, with rate > 0, each at its due time.
func (b *bench) ingest(ctx context.Context, recv *receiver, srv fleet, apps []application, n, rate int, label string) *ingestResult {
	k := b.cfg.Batch
	units := (n + k - 1) / k
	res := &ingestResult{msgs: make([]sent, n), filtered: b.cfg.Filter}
	var (
		next       atomic.Int64
		accepted   atomic.Int64
		refused    atomic.Int64
		lastAccept atomic.Int64
		errMu      sync.Mutex
	)
	fail := func(err error, count int) {
		refused.Add(int64(count))
		errMu.Lock()
		res.firstError = cmp.Or(res.firstError, err.Error())
		errMu.Unlock()
	}
	stop := b.progress.show(label, int64(n), accepted.Load, func() string {
		return fmt.Sprintf("delivered %d", recv.uniqueCount())
	})
	res.t0 = time.Now()
	b.client.run(ctx, b.cfg.Concurrency, "client", func(w *clientWorker) {
		for {
			j := int(next.Add(1)) - 1
			if j >= units || ctx.Err() != nil {
				return
			}
			first, count := j*k, min(k, n-j*k)
			app := j % len(apps)
			var at time.Duration
			if rate > 0 {
				at = time.Duration(float64(first) / float64(rate) * float64(time.Second))
				if !sleepUntil(ctx, res.t0.Add(at)) {
					return
				}
			} else {
				at = time.Since(res.t0)
			}
			ids, err := w.send(ctx, srv.base(j), apps[app].id, first, count, k > 1)
			if err != nil {
				fail(err, count)
				continue
			}
			now := int64(time.Since(res.t0))
			ok := 0
			for i, id := range ids {
				if id != "" {
					res.msgs[first+i] = sent{id: id, at: at, app: int32(app)}
					ok++
				}
			}
			if ok < count {
				fail(errors.New("some messages of a batch were refused"), count-ok)
			}
			accepted.Add(int64(ok))
			for {
				last := lastAccept.Load()
				if now <= last || lastAccept.CompareAndSwap(last, now) {
					break
				}
			}
		}
	})
	stop()
	res.accepted, res.refused = int(accepted.Load()), int(refused.Load())
	res.lastAccept = time.Duration(lastAccept.Load())
	return res
}

// sleepUntil waits until t, and reports false if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// wait returns once every delivery owed for ing (fanout to each accepted
// message) has arrived at recv, or ctx ends.
func (b *bench) wait(ctx context.Context, recv *receiver, ing *ingestResult, fanout int, label string) {
	want := int64(ing.accepted * ing.owedPer(fanout))
	stop := b.progress.show(label, want, recv.uniqueCount, nil)
	defer stop()
	// The unique count is cheap; an exact match of arrivals against the
	// accepted messages is made only once it says all are in.
	b.waitFor(ctx, func() bool {
		return recv.uniqueCount() >= want && recv.matched(ing, fanout) >= want
	})
}

// waitFor returns once done says so, looking every 5 ms, or when ctx ends.
func (b *bench) waitFor(ctx context.Context, done func() bool) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// owedFrom counts the deliveries owed for the accepted messages of ing to
// endpoints numbered from on (the healthy ones of a --hang run).
func (ing *ingestResult) owedFrom(from, fanout int) int64 {
	var n int64
	for i := range ing.msgs {
		if ing.msgs[i].id == "" {
			continue
		}
		first := int(ing.msgs[i].app) * fanout
		n += int64(max(0, first+fanout-max(first, from)))
	}
	return n
}

// addHealthy fills in the delivery rate of the endpoints that did not
