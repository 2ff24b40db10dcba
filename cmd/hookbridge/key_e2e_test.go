package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestKeyCommands drives `hookbridge key` against a running server: a key
// made with it works for its scope only, is listed without its secret,
// and stops working when rotated (the new secret works) or revoked;
// flags may follow the id.
func TestKeyCommands(t *testing.T) {
	srv := startTestServer(t)
	get := func(key, path string) int {
		t.Helper()
		req, err := http.NewRequest("GET", "http://"+srv.Addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	var made struct {
		ID, Key, Scope, Name string
	}
	if err := json.Unmarshal(cli(t, srv, "key", "create", "--name", "reporting", "--scope", "read-only"), &made); err != nil {
		t.Fatal(err)
	}
	if made.Scope != "read-only" || !strings.HasPrefix(made.Key, "hbk_"+made.ID+"_") {
		t.Fatalf("created %+v", made)
	}
	if code := get(made.Key, "/api/v1/app"); code != http.StatusOK {
		t.Errorf("read with the new key: %d, want 200", code)
	}
	if code := get(made.Key, "/api/v1/api-key"); code != http.StatusOK {
		t.Errorf("read-only key listing keys: %d, want 200", code)
	}

	list := string(cli(t, srv, "key", "list"))
	if !strings.Contains(list, made.ID) || !strings.Contains(list, "reporting") || strings.Contains(list, made.Key) {
		t.Errorf("list:\n%s\nwant the key's id and name, never its secret", list)
	}

	var rotated struct{ Key string }
	if err := json.Unmarshal(cli(t, srv, "key", "rotate", made.ID), &rotated); err != nil {
		t.Fatal(err)
	}
	if code := get(made.Key, "/api/v1/app"); code != http.StatusUnauthorized {
		t.Errorf("old secret after rotation: %d, want 401", code)
	}
	if code := get(rotated.Key, "/api/v1/app"); code != http.StatusOK {
		t.Errorf("new secret: %d, want 200", code)
	}

	// Flags after the operand, the way source's subcommands take them.
	var stdout, stderr bytes.Buffer
	args := []string{"key", "revoke", "--url", "http://" + srv.Addr, made.ID, "--api-key", testAPIKey}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("revoke: exit %d: %s", code, stderr.String())
	}
	if code := get(rotated.Key, "/api/v1/app"); code != http.StatusUnauthorized {
		t.Errorf("after revoke: %d, want 401", code)
	}

	stderr.Reset()
	if code := run(context.Background(), []string{"key", "create", "--name", "x", "--scope", "root", "--url", "http://" + srv.Addr, "--api-key", testAPIKey}, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "body.scope") {
		t.Errorf("bad scope: exit %d, stderr %q: want a failure naming body.scope", code, stderr.String())
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"key", "create", "--scope", "admin", "--api-key", testAPIKey}, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "--name") {
		t.Errorf("no name: exit %d, stderr %q: want a usage error naming --name", code, stderr.String())
	}
}
