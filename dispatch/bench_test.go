package dispatch_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge/dispatch"
	"github.com/hookbridge/hookbridge/storetest"
)

// benchFanout is how many endpoints each benchmark message goes to: most of
// the work measured is the dispatcher's, not message ingest.
const benchFanout = 16

// BenchmarkDispatch sends b.N deliveries through a SQLite store to a local
// receiver with the default worker pool and batch size, from the first claim
// to the last recorded result, and reports deliveries per second. It also
// reports the process's CPU time per delivery (dispatcher, store and the
// in-process receiver together): on a shared machine that figure moves far
// less than the wall-clock rate, and cores divided by it bounds the rate.
func BenchmarkDispatch(b *testing.B) {
	e := newEnv(b)
	var (
		received atomic.Int64
		total    int64 // set before the dispatcher starts
		allIn    = make(chan struct{})
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
		if received.Add(1) == total {
			close(allIn)
		}
	}))
	b.Cleanup(srv.Close)
	for i := range benchFanout {
		e.endpoint(fmt.Sprintf("%s/hooks/%d", srv.URL, i))
	}
	messages := (b.N + benchFanout - 1) / benchFanout
	for i := range messages {
		e.publish(fmt.Sprintf(`{"type":"payment.captured","id":"pay_%d","amount":1250,"currency":"EUR"}`, i))
	}
	total = int64(messages * benchFanout)

	cpu0, cpuOK := storetest.ProcessCPU()
	b.ResetTimer()
	start := time.Now()
	_, stop := e.start(dispatch.Config{Workers: dispatch.DefaultWorkers, BatchSize: dispatch.DefaultBatchSize})
	// Every request has arrived; wait for the last results to be written.
	<-allIn
	for {
		_, pending, err := e.store.NextDue(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if !pending {
			break
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	cpu1, _ := storetest.ProcessCPU()
	b.StopTimer()
	if err := stop(); err != nil {
		b.Fatal(err)
	}
	if got := received.Load(); got != total {
		b.Fatalf("receiver got %d requests, want %d", got, total)
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "deliveries/s")
	if cpuOK {
		b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(total), "cpu-µs/delivery")
	}
}
