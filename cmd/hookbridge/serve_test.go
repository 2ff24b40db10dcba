package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

// startStop starts a server on db with the admin key given (or none) and
// stops it again, returning what it logged and what it printed.
func startStop(t *testing.T, db, apiKey string) (logged, printed string) {
	t.Helper()
	var logBuf syncBuffer
	var out bytes.Buffer
	cfg := serveConfig{Addr: "127.0.0.1:0", DB: db, APIKey: apiKey, ShutdownTimeout: 5 * time.Second}
	srv, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(&logBuf, nil)), &out)
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	if err := srv.Shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	return logBuf.String(), out.String()
}

// TestAPIKeyReplacingStoredKeyIsLogged: starting with --api-key on a
// database whose key was generated (and printed) on first start warns that
// the printed key no longer works, without logging either key; the same
// key again, or a key on a new database, replaces nothing and says nothing.
func TestAPIKeyReplacingStoredKeyIsLogged(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "hookbridge.db")
	const replaces = "replaces the one stored before"

	logged, printed := startStop(t, db, "")
	generated := regexp.MustCompile(`hbk_\S+`).FindString(printed)
	if generated == "" {
		t.Fatalf("first start printed no key: %q", printed)
	}
	if strings.Contains(logged, replaces) {
		t.Errorf("first start logged a replacement: %s", logged)
	}

	logged, _ = startStop(t, db, testAPIKey)
	if !strings.Contains(logged, "level=WARN") || !strings.Contains(logged, replaces) || !strings.Contains(logged, "--api-key") {
		t.Errorf("the configured key replaced the generated one without a warning:\n%s", logged)
	}
	for _, key := range []string{generated, testAPIKey} {
		if strings.Contains(logged, key) {
			t.Errorf("the log shows a key:\n%s", logged)
		}
	}

	if logged, _ = startStop(t, db, testAPIKey); strings.Contains(logged, replaces) {
		t.Errorf("the same key again logged a replacement:\n%s", logged)
	}
	other := filepath.Join(t.TempDir(), "hookbridge.db")
	if logged, _ = startStop(t, other, testAPIKey); strings.Contains(logged, replaces) {
		t.Errorf("a key on a new database logged a replacement:\n%s", logged)
	}
}

// TestServeOnBusyPortLeavesNoDatabase: serve on an address already in use
// fails before it opens the database, so no database (nor its lock or
// write-ahead log) is left behind by a start that never ran.
func TestServeOnBusyPortLeavesNoDatabase(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	db := filepath.Join(dir, "hookbridge.db")

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"serve", "--addr", busy.Addr().String(), "--db", db}, &stdout, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), "listen on "+busy.Addr().String()) {
		t.Errorf("serve on a busy port: exit %d, stderr %q; want a failure to listen", code, stderr.String())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("serve on a busy port left %s behind", e.Name())
	}
	if strings.Contains(stdout.String(), "Generated the admin API key") {
		t.Errorf("serve on a busy port generated a key: %q", stdout.String())
	}
}

// TestAPIKeyStrength: serve refuses an --api-key that is short, has few
// different characters or repeats a shorter string, with a usage error
// (exit 2) that states the rule, before it creates a database; generated
// keys, and a long random one, pass.
func TestAPIKeyStrength(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ key, why string }{
		{"hbk_demo_key_0123456789", "too short (23 characters)"},
		{"0123456789abcdef", "too short (16 characters)"}, // the old minimum
		{strings.Repeat("a", 40), "only 1 different characters"},
		{strings.Repeat("abcdefgh", 5), "only 8 different characters"},
		{strings.Repeat("0123456789", 4), "a string of 10 characters repeated"},
		{strings.Repeat("hbk_0123456789-", 2) + "hbk_0123", "a string of 15 characters repeated"},
	} {
		dir := t.TempDir()
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "hookbridge.db"), "--api-key", c.key}, &stdout, &stderr)
		msg := stderr.String()
		if code != 2 || !strings.Contains(msg, "--api-key") || !strings.Contains(msg, c.why) ||
			!strings.Contains(msg, "at least 32 characters, at least 10 of them different") {
			t.Errorf("--api-key %q: exit %d, stderr %q; want exit 2 saying %q and the rule", c.key, code, msg, c.why)
		}
		if strings.Contains(msg, c.key) {
			t.Errorf("the refusal shows the key: %q", msg)
		}
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			t.Errorf("--api-key %q: a refused start left %s behind", c.key, entries[0].Name())
		}
	}
	for _, key := range []string{testAPIKey, hookbridge.NewAdminKey(), hookbridge.NewAdminKey(), "Zk3v9Qw7Lr2xNp5Tb8Hc1Md6Fg4Js0Ya"} {
		if err := checkAdminKeyStrength(key); err != nil {
			t.Errorf("key %q refused: %v", key, err)
		}
	}
}

func TestPeriod(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		s    string
		want int
	}{{"", 0}, {"a", 1}, {"aaaa", 1}, {"abab", 2}, {"ababa", 2}, {"abcab", 3}, {"abcd", 4}, {"aabaab", 3}} {
		if got := period(c.s); got != c.want {
			t.Errorf("period(%q) = %d, want %d", c.s, got, c.want)
		}
	}
}

// TestNegativeRetentionRefused: a negative --retention or --raw-retention
// would reach into the future and delete everything: serve refuses it with
// a usage error before it creates a database.
func TestNegativeRetentionRefused(t *testing.T) {
	t.Parallel()
	for _, flag := range []string{"--retention", "--raw-retention"} {
		dir := t.TempDir()
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "hookbridge.db"),
			"--api-key", testAPIKey, flag, "-1h"}, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), flag+" -1h0m0s: must not be negative") {
			t.Errorf("%s -1h: exit %d, stderr %q; want exit 2 naming the flag", flag, code, stderr.String())
		}
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			t.Errorf("%s -1h: a refused start left %s behind", flag, entries[0].Name())
		}
	}
}
