package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The official Svix JavaScript SDK against a real server: compat/svix-js
// drives every operation of the Svix reference through the SDK, checks
// every body and status against the reference OpenAPI document, and
// verifies every delivery with the standardwebhooks package. This test
// starts the server and the receivers, installs the pinned npm packages
// when node_modules is missing or behind the lockfile, and runs the script
// with node's test runner.

const (
	svixJSDir = "../../compat/svix-js"
	// svixJSTimeout bounds the whole script; it takes a few seconds.
	svixJSTimeout = 2 * time.Minute
	// npmCITimeout bounds the install, which downloads a few small packages.
	npmCITimeout = 3 * time.Minute
	// lockStamp, inside node_modules, holds the hash of the package-lock.json
	// that node_modules was installed from.
	lockStamp = ".hookbridge-lock-sha256"
)

func TestSvixJSSDK(t *testing.T) {
	t.Parallel()
	node, npm := lookTool(t, "node"), lookTool(t, "npm")
	checkNodeVersion(t, node)
	dir, err := filepath.Abs(svixJSDir)
	if err != nil {
		t.Fatal(err)
	}
	// The Svix server's reference document, as api/ keeps it for its own
	// comparison.
	reference, err := filepath.Abs("../../api/testdata/svix-server-openapi.json")
	if err != nil {
		t.Fatal(err)
	}

	// No retries: a failing delivery is failed at once, so the recovery
	// test does not wait out a schedule.
	srv := startTestServer(t, func(c *serveConfig) { c.RetrySchedule = "none" })
	ok, failing := newReceiver(t), newReceiver(t)
	failing.setStatus(http.StatusInternalServerError)
	inbox := newDeliveryInbox(t, ok, failing)

	installNodeModules(t, npm, dir)

	ctx, cancel := context.WithTimeout(t.Context(), svixJSTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", "svix.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"HOOKBRIDGE_URL=http://"+srv.Addr,
		"HOOKBRIDGE_API_KEY="+testAPIKey,
		"RECEIVER_URL="+ok.URL,
		"FAILING_RECEIVER_URL="+failing.URL,
		"INBOX_URL="+inbox.URL,
		"SVIX_REFERENCE_OPENAPI="+reference,
		"NO_COLOR=1",
	)
	if err := runLogged(t, cmd); err != nil {
		t.Fatalf("node --test svix.test.mjs: %v", err)
	}
}

// lookTool finds a program on PATH. Without it the test is skipped, except
// under CI (CI=true), where it fails: CI must not pass by running nothing.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		skipOrFail(t, name+" is not on PATH; install Node.js 20 or later (apt-get install nodejs npm) to run the Svix JavaScript SDK test")
	}
	return path
}

// checkNodeVersion skips (fails under CI) on a Node.js older than 20, on
// which the SDK does not run (it needs the global crypto, for one).
func checkNodeVersion(t *testing.T, node string) {
	t.Helper()
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	version := strings.TrimSpace(string(out))
	major, _, _ := strings.Cut(strings.TrimPrefix(version, "v"), ".")
	if n, err := strconv.Atoi(major); err != nil || n < 20 {
		skipOrFail(t, "Node.js "+version+" is too old for the Svix JavaScript SDK test; it needs 20 or later")
	}
}

func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// installNodeModules runs npm ci when node_modules was not installed from
// the current package-lock.json.
func installNodeModules(t *testing.T, npm, dir string) {
	t.Helper()
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(lock)
	want := hex.EncodeToString(sum[:])
	stamp := filepath.Join(dir, "node_modules", lockStamp)
	if got, err := os.ReadFile(stamp); err == nil && string(got) == want {
		return
	}
	ctx, cancel := context.WithTimeout(t.Context(), npmCITimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if err := runLogged(t, cmd); err != nil {
		t.Fatalf("npm ci in %s: %v", dir, err)
	}
	if err := os.WriteFile(stamp, []byte(want), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runLogged runs cmd with its output, stdout and stderr together, copied
// line by line to the test log as it comes.
func runLogged(t *testing.T, cmd *exec.Cmd) error {
	t.Helper()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.WaitDelay = 5 * time.Second // a child that keeps the pipe open
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			t.Log(sc.Text())
		}
		io.Copy(io.Discard, pr) // a line over the limit: drain the rest
	}()
	err := cmd.Run()
	pw.Close()
	<-done
	return err
}

// deliveryInbox hands the requests that receivers got to the script, which
// cannot read the receivers' channels. GET /next?path=/p answers the oldest
// request to path /p not handed out yet, waiting up to 10 s for one (404
// after that); GET /all answers every request received so far, handed out
// or not. Bodies are base64 (JSON []byte), so the script verifies
// signatures over the exact bytes.
type deliveryInbox struct {
	*httptest.Server
	mu      sync.Mutex
	all     []received
	pending map[string][]received // by path, oldest first
	arrived chan struct{}         // closed and replaced on every arrival
}

func newDeliveryInbox(t *testing.T, receivers ...*receiver) *deliveryInbox {
	t.Helper()
	in := &deliveryInbox{pending: map[string][]received{}, arrived: make(chan struct{})}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, r := range receivers {
		wg.Go(func() {
			for {
				select {
				case got := <-r.got:
					in.add(got)
				case <-stop:
					return
				}
			}
		})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /next", in.serveNext)
	mux.HandleFunc("GET /all", func(w http.ResponseWriter, r *http.Request) {
		in.mu.Lock()
		all := append([]received(nil), in.all...)
		in.mu.Unlock()
		writeDeliveries(w, all)
	})
	in.Server = httptest.NewServer(mux)
	t.Cleanup(func() {
		in.Close()
		close(stop)
		wg.Wait()
	})
	return in
}

func (in *deliveryInbox) add(got received) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.all = append(in.all, got)
	in.pending[got.Path] = append(in.pending[got.Path], got)
	close(in.arrived)
	in.arrived = make(chan struct{})
}

func (in *deliveryInbox) serveNext(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Query().Get("path")
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		in.mu.Lock()
		queue, arrived := in.pending[path], in.arrived
		if len(queue) > 0 {
			in.pending[path] = queue[1:]
		}
		in.mu.Unlock()
		if len(queue) > 0 {
			writeDeliveries(w, queue[:1])
			return
		}
		select {
		case <-arrived:
		case <-deadline.C:
			http.Error(w, "no request to "+path+" within 10s", http.StatusNotFound)
			return
		case <-r.Context().Done():
			return
		}
	}
}

func writeDeliveries(w http.ResponseWriter, list []received) {
	type delivery struct {
		Path    string            `json:"path"`
		Headers map[string]string `json:"headers"`
		Body    []byte            `json:"body"`
	}
	out := make([]delivery, 0, len(list))
	for _, got := range list {
		h := map[string]string{}
		for k := range got.Header {
			h[k] = got.Header.Get(k)
		}
		out = append(out, delivery{Path: got.Path, Headers: h, Body: got.Body})
	}
	var buf bytes.Buffer
	json.NewEncoder(&buf).Encode(out)
	w.Header().Set("Content-Type", "application/json")
	w.Write(buf.Bytes())
}
