package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge/sealed"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// hookbridgeBinary builds the real binary once per test run.
func hookbridgeBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hookbridge-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "hookbridge")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// testSecretKey is the key of the serve processes the tests start on
// PostgreSQL.
var testSecretKey = sealed.NewKey()

// process is a `hookbridge serve` child process.
type process struct {
	cmd   *exec.Cmd
	addr  string
	logMu sync.Mutex
	logs  *bytes.Buffer
	done  chan struct{}
	addrc chan string // receives addr once it listens
}

// logText returns what the process has logged so far.
func (p *process) logText() string {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	return p.logs.String()
}

// startProcess runs `hookbridge serve` on db and waits until it listens.
func startProcess(t testing.TB, db string, extra ...string) *process {
	t.Helper()
	p := spawnProcess(t, db, extra...)
	p.waitListening(t)
	return p
}

// spawnProcess starts `hookbridge serve` on db without waiting for it, so
// that several can start at once; waitListening waits for each.
func spawnProcess(t testing.TB, db string, extra ...string) *process {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--api-key", testAPIKey,
		"--allow-private", "127.0.0.0/8", "--log-format", "json"}, extra...)
	cmd := exec.Command(hookbridgeBinary(t), args...)
	cmd.Env = append(os.Environ(), "HOOKBRIDGE_LOG_LEVEL=info")
	if isPostgres(db) { // every instance on one database needs the same key; on SQLite serve makes its own
		cmd.Env = append(cmd.Env, "HOOKBRIDGE_SECRET_KEY="+testSecretKey)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, logs: new(bytes.Buffer), done: make(chan struct{}), addrc: make(chan string, 1)}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Bytes()
			p.logMu.Lock()
			p.logs.Write(line)
			p.logs.WriteByte('\n')
			p.logMu.Unlock()
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "hookbridge started" {
				p.addrc <- rec.Addr
			}
		}
		cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

// waitListening waits until the process listens and sets p.addr.
func (p *process) waitListening(t testing.TB) {
	t.Helper()
	select {
	case p.addr = <-p.addrc:
	case <-p.done:
		t.Fatalf("hookbridge exited before listening:\n%s", p.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("hookbridge did not start:\n%s", p.logText())
	}
}

// apiCall sends one authenticated JSON request and decodes the answer.
func apiCall(ctx context.Context, client *http.Client, method, url string, in, out any) (int, error) {
	body, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s: %w", data, err)
		}
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, data)
	}
	return resp.StatusCode, nil
}

// TestCrashSafety kills the real binary with SIGKILL while messages pour in,
// restarts it on the same file, and checks that every message that got a 2xx
// is delivered at least once.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "crash.db")

	var (
		mu       sync.Mutex
		received = map[string]int{} // webhook-id → times received
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		received[r.Header.Get("webhook-id")]++
		mu.Unlock()
	}))
	defer recv.Close()

	p1 := startProcess(t, db)
	base := "http://" + p1.addr + "/api/v1"
	client := &http.Client{Timeout: 10 * time.Second}
	var app struct {
		ID string `json:"id"`
	}
	if _, err := apiCall(ctx, client, "POST", base+"/app", map[string]any{"name": "crash"}, &app); err != nil {
		t.Fatal(err)
	}
	if _, err := apiCall(ctx, client, "POST", base+"/app/"+app.ID+"/endpoint", map[string]any{"url": recv.URL}, nil); err != nil {
		t.Fatal(err)
	}

	// Producers send until the process is killed; every 202 is recorded.
	const killAfter = 400
	var (
		acceptedMu sync.Mutex
		accepted   []string
		count      atomic.Int64
		wg         sync.WaitGroup
		killed     = make(chan struct{})
	)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-killed:
					return
				default:
				}
				var msg struct {
					ID string `json:"id"`
				}
				_, err := apiCall(ctx, client, "POST", base+"/app/"+app.ID+"/msg",
					map[string]any{"eventType": "order.created", "payload": map[string]any{"worker": w, "i": i}}, &msg)
				if err != nil {
					continue // the server died mid-request: not accepted
				}
				acceptedMu.Lock()
				accepted = append(accepted, msg.ID)
				acceptedMu.Unlock()
				count.Add(1)
			}
		}()
	}
	waitFor(t, fmt.Sprintf("%d accepted messages", killAfter), func() bool { return count.Load() >= killAfter })
	if err := p1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p1.done
	close(killed)
	wg.Wait()

	mu.Lock()
	beforeRestart := len(received)
	mu.Unlock()
	t.Logf("accepted %d messages; %d delivered before SIGKILL", len(accepted), beforeRestart)

	startProcess(t, db)
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		var missing []string
		for _, id := range accepted {
			if received[id] == 0 {
				missing = append(missing, id)
			}
		}
		dups := 0
		for _, n := range received {
			dups += n - 1
		}
		mu.Unlock()
		if len(missing) == 0 {
			t.Logf("all %d accepted messages delivered after restart; %d duplicate deliveries (in flight at the kill)", len(accepted), dups)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d accepted messages never delivered, e.g. %s", len(missing), len(accepted), strings.Join(missing[:min(5, len(missing))], ", "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
