package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestCounts checks the receiver's accounting, which the smoke test
// can only see succeed: a missing delivery is lost, a repeated one is a
// duplicate, one at an endpoint the message is not owed to is unexpected.
func TestCounts(t *testing.T) {
	t.Parallel()
	recv := &receiver{arrivals: map[arrivalKey]time.Time{}, base: map[string]struct{}{}}
	deliver := func(id, path string) {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader("{}"))
		req.Header.Set("webhook-id", id)
		w := httptest.NewRecorder()
		recv.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("receiver answered %d to %s %s", w.Code, id, path)
		}
	}
	// Two applications with two endpoints each: app 0 owns /e/0 and /e/1,
	// app 1 owns /e/2 and /e/3.
	ing := &ingestResult{
		t0: time.Now(),
		msgs: []sent{
			{id: "msg_a", app: 0},
			{id: "msg_b", app: 1},
			{id: "", app: 0}, // refused: owed nowhere
		},
		accepted: 2,
	}
	deliver("msg_a", "/e/0")
	deliver("msg_a", "/e/1")
	deliver("msg_a", "/e/1") // duplicate
	deliver("msg_b", "/e/2") // msg_b never reaches /e/3: lost
	deliver("msg_b", "/e/0") // not owed there
	deliver("msg_x", "/e/0") // not sent by this run

	var rep Report
	rep.addIngest(ing, 2)
	rep.addDeliveries(recv, ing, 2, true)
	if rep.Deliveries != 4 || rep.Lost != 1 || rep.Duplicates != 1 || rep.Unexpected != 2 {
		t.Errorf("deliveries %d, lost %d, duplicates %d, unexpected %d; want 4, 1, 1, 2",
			rep.Deliveries, rep.Lost, rep.Duplicates, rep.Unexpected)
	}
	if got := recv.matched(ing, 2); got != 3 {
		t.Errorf("matched = %d, want 3", got)
	}
	if rep.P50MS == nil || rep.MaxMS == nil || *rep.P50MS > *rep.MaxMS {
		t.Errorf("latency percentiles p50 %v, max %v", rep.P50MS, rep.MaxMS)
	}
}

// TestServerEnv: the variables that configure `serve` must not reach the
// server the bench starts, which runs with its defaults and the bench's
// flags.
func TestServerEnv(t *testing.T) {
	t.Parallel()
	env := serverEnv([]string{"PATH=/bin", "HOOKBRIDGE_DB=x", "HOOKBRIDGE_MAX_PAYLOAD=10", "HOME=/root"})
	if strings.Join(env, " ") != "PATH=/bin HOME=/root" {
		t.Errorf("server environment = %v, want no HOOKBRIDGE_* variable", env)
	}
}

// TestCheck: a run that could not measure what it says is refused before
// anything starts, naming the flag; so is --in-process without a way to
// start a server in this process.
func TestCheck(t *testing.T) {
	t.Parallel()
	valid := Config{Endpoints: 1, Fanout: 1, Messages: DefaultMessages, Concurrency: DefaultConcurrency,
		Batch: 1, Instances: 1, Timeout: DefaultTimeout}
	if err := valid.Check(); err != nil {
		t.Fatalf("the defaults: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"NoMessages", func(c *Config) { c.Messages = 0 }, "--messages"},
		{"RelayWithRate", func(c *Config) { c.Relay, c.Rate = true, 1000 }, "--relay"},
		{"URLWithoutKey", func(c *Config) { c.URL = "http://127.0.0.1:8071" }, "--api-key"},
		{"InProcessWithoutServe", func(c *Config) { c.InProcess = true }, "--in-process"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid
			tc.change(&cfg)
			err := cfg.Check()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check() = %v, want an error naming %s", err, tc.want)
			}
			if _, err := Run(t.Context(), cfg, io.Discard); err == nil {
				t.Error("Run started a run that Check refuses")
			}
		})
	}
}
