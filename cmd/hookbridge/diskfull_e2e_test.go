//go:build linux

package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/hookbridge/hookbridge/api"
	"github.com/hookbridge/hookbridge/webhook"
)

// TestDiskFull runs a real server on a SQLite file in a small tmpfs, fills
// the file system, and checks what a load balancer and a client see: writes
// answered 503 with Retry-After (never 500), readiness 503 while liveness
// stays 204, no corruption, recovery once space returns, and every message
// accepted before or during the episode delivered in the end. Mounting needs
// root (CI runs as root).
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: mounting a tmpfs to fill needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("skipped: cannot mount a tmpfs (%v): %s", err, out)
	}
	t.Cleanup(func() { // registered first: runs after the server's shutdown
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	db := filepath.Join(dir, "hookbridge.db")

	// The receiver holds requests until open is closed, so that deliveries
	// are in flight while the disk fills, and records the message ids it
	// got.
	var (
		mu   sync.Mutex
		got  = map[string]int{}
		open = make(chan struct{})
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-open
		mu.Lock()
		got[r.Header.Get(webhook.HeaderID)]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(recv.Close)
	released := sync.OnceFunc(func() { close(open) })
	t.Cleanup(released)

	srv := startTestServer(t, func(c *serveConfig) {
		c.DB = db
		c.Lease = 3 * time.Second
		c.RequestTimeout = 2 * time.Second
	})
	ctx := context.Background()
	sx := svixClient(t, srv)
	app, err := sx.Application.Create(ctx, svix.ApplicationIn{Name: "shop"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sx.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: recv.URL}, nil); err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.Addr
	status := func(method, path string, body []byte) (int, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testAPIKey)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		res.Body.Close()
		return res.StatusCode, res.Header
	}
	msgBody := []byte(`{"eventType":"order.paid","payload":{"pad":"` + string(bytes.Repeat([]byte("x"), 2000)) + `"}}`)
	var accepted []string
	send := func() (int, http.Header) {
		t.Helper()
		m, err := sx.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "order.paid", Payload: map[string]any{"n": len(accepted)}}, nil)
		if err == nil {
			accepted = append(accepted, m.Id)
			return http.StatusAccepted, nil
		}
		var se *svix.Error
		if errors.As(err, &se) {
			return se.Status(), nil
		}
		t.Fatalf("create message: %v", err)
		return 0, nil
	}
	for range 5 {
		if code, _ := send(); code != http.StatusAccepted {
			t.Fatalf("before the disk fills: create message %d, want 202", code)
		}
	}
	if code, _ := status("GET", "/api/v1/health/ready", nil); code != http.StatusNoContent {
		t.Fatalf("readiness before the disk fills: %d, want 204", code)
	}

	// Fill the file system: large writes, then small ones, until none fits.
	fillerPath := filepath.Join(dir, "filler")
	filler, err := os.Create(fillerPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1 << 16, 512, 1} {
		chunk := make([]byte, size)
		for {
			if _, err := filler.Write(chunk); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("fill: %v", err)
				}
				break
			}
		}
	}
	filler.Close()

	// Writes fail now, or soon (what SQLite's journal had room for goes
	// first): each answer is 202 or 503 with Retry-After, never a 500.
	full := false
	for i := 0; i < 200 && !full; i++ {
		code, h := status("POST", "/api/v1/app/"+app.Id+"/msg", msgBody)
		switch code {
		case http.StatusAccepted:
		case http.StatusServiceUnavailable:
			if h.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
			full = true
		default:
			t.Fatalf("create message on a full disk: %d, want 202 or 503", code)
		}
	}
	if !full {
		t.Fatal("200 messages accepted on a full file system")
	}
	if code, _ := send(); code != http.StatusServiceUnavailable {
		t.Errorf("SDK create message on a full disk: %d, want 503", code)
	}
	released() // deliveries in flight finish now; their results cannot be written

	code, h := status("GET", "/api/v1/health/ready", nil)
	if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Errorf("readiness on a full disk: %d (Retry-After %q), want 503 with Retry-After", code, h.Get("Retry-After"))
	}
	if code, _ := status("GET", "/api/v1/health", nil); code != http.StatusNoContent {
		t.Errorf("liveness on a full disk: %d, want 204", code)
	}
	// Readiness stays 503 when it is probed afresh, not only because a
	// write just failed.
	since := time.Now()
	waitFor(t, "readiness probed afresh on the full disk", func() bool {
		if code, _ := status("GET", "/api/v1/health/ready", nil); code != http.StatusServiceUnavailable {
			t.Fatalf("readiness on a full disk, %v after the last failed write: %d, want 503", time.Since(since), code)
		}
		return time.Since(since) > 2*api.ReadyInterval
	})

	// Space returns: readiness and writes recover.
	if err := os.Remove(fillerPath); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "readiness once space returns", func() bool {
		code, _ := status("GET", "/api/v1/health/ready", nil)
		return code == http.StatusNoContent
	})
	if code, _ := send(); code != http.StatusAccepted {
		t.Fatalf("create message after recovery: %d, want 202", code)
	}

	// Every message accepted, before, during or after, is delivered: those
	// accepted through the SDK and the raw requests alike, as listed.
	msgs, err := sx.Message.List(ctx, app.Id, &svix.MessageListOptions{Limit: ptr(uint64(250))})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs.Data) < len(accepted) {
		t.Fatalf("%d messages listed, %d accepted through the SDK", len(msgs.Data), len(accepted))
	}
	waitFor(t, "every accepted message delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs.Data {
			if got[m.Id] == 0 {
				return false
			}
		}
		return true
	})
	waitFor(t, "every delivery recorded as a success", func() bool {
		for _, m := range msgs.Data {
			dests, err := sx.MessageAttempt.ListAttemptedDestinations(ctx, app.Id, m.Id, nil)
			if err != nil || len(dests.Data) != 1 || dests.Data[0].Status != svix.MessageStatus(0) {
				return false
			}
		}
		return true
	})

	// No corruption.
	raw, err := sql.Open("sqlite", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var check string
	if err := raw.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check: %q, %v", check, err)
	}
}
