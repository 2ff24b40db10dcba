package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/postgres/pgtest"
	"github.com/hookbridge/hookbridge/sealed"
	"github.com/hookbridge/hookbridge/sqlite"
)

// startLogged is startTestServer with the server's log kept in logs.
func startLogged(t *testing.T, logs *syncBuffer, edit ...func(*serveConfig)) *server {
	t.Helper()
	cfg := testServeConfig(t, append([]func(*serveConfig){func(c *serveConfig) { c.Workers = 4 }}, edit...)...)
	return runTestServer(t, cfg, slog.New(slog.NewTextHandler(logs, nil)), logs.String)
}

// secretForms are the ways a secret could be written down: as it is, and,
// for a base64 value (a key, or what follows whsec_ in an endpoint
// secret), its bytes and its other base64 alphabets.
func secretForms(v string) [][]byte {
	forms := [][]byte{[]byte(v)}
	b64 := strings.TrimPrefix(v, "whsec_")
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		raw, err := enc.DecodeString(b64)
		if err != nil || len(raw) < 16 {
			continue
		}
		forms = append(forms, raw, []byte(b64))
		for _, other := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
			forms = append(forms, []byte(other.EncodeToString(raw)))
		}
		break
	}
	return forms
}

// leaks returns, for every file under dir but the key file, each secret
// (by name) it holds in any of its forms.
func leaks(t *testing.T, dir, keyFile string, secrets map[string]string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == keyFile {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for name, v := range secrets {
			for _, form := range secretForms(v) {
				if bytes.Contains(b, form) {
					found = append(found, name+" in "+filepath.Base(path))
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// ownerOnly fails the test unless every file under dir is mode 0600.
func ownerOnly(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().IsRegular() && info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %o, want 600", e.Name(), info.Mode().Perm())
		}
	}
}

// signInOnce signs in to the dashboard with the admin key.
func signInOnce(t *testing.T, srv *server) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm("http://"+srv.Addr+"/ui/login", url.Values{"key": {testAPIKey}, "next": {"/ui/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) == 0 {
		t.Fatalf("sign-in: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
}

// storedKeys returns the dashboard's session key and the portal token
// key, as the running server's store reads them (opened).
func storedKeys(t *testing.T, srv *server) (session, portal string) {
	t.Helper()
	ctx := context.Background()
	session, err := srv.store.Setting(ctx, "ui_session_key")
	if err != nil {
		t.Fatal(err)
	}
	portal, err = srv.store.Setting(ctx, "portal_token_key")
	if err != nil {
		t.Fatal(err)
	}
	return session, portal
}

// fillServer gives a running server an application with an endpoint with
// secret epSecret, a source with secret srcSecret, a dashboard session and
// a portal link, and returns the secrets it then keeps, by name.
func fillServer(t *testing.T, srv *server, epSecret, srcSecret string) (secrets map[string]string, appID, epID string) {
	t.Helper()
	ctx := context.Background()
	sx := svixClient(t, srv)
	app, err := sx.Application.Create(ctx, svix.ApplicationIn{Name: "Shop", Uid: ptr("shop")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := sx.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: "https://receiver.example/hooks", Secret: ptr(epSecret)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	createSourceCLI(t, srv, "--scheme", "stripe", "--secret", srcSecret, "--app", "shop", "--state", "on")
	signInOnce(t, srv)
	portal, err := sx.Authentication.AppPortalAccess(ctx, app.Id, svix.AppPortalAccessIn{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sessionKey, portalKey := storedKeys(t, srv)
	return map[string]string{
		"endpoint secret": epSecret, "source secret": srcSecret, "session key": sessionKey,
		"portal token key": portalKey, "portal token": portal.Token, "admin key": testAPIKey,
	}, app.Id, ep.Id
}

// TestFreshServeLeavesNoSecretOnDisk: a server started with no key at all,
// as `go run ./cmd/hookbridge serve` is, makes a key file beside the
// database (for its owner only) and says where; every file it writes is
// for its owner only; and once it keeps an endpoint secret, a source
// secret, the dashboard's session key and the portal token key, no file
// but the key file holds any of them in any form, while it runs or after
// it stops. Started again, it reads them with the key file.
func TestFreshServeLeavesNoSecretOnDisk(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "hookbridge.db")
	keyFile := db + keyFileSuffix
	var logs syncBuffer
	srv := startLogged(t, &logs, func(c *serveConfig) { c.DB = db })

	if !strings.Contains(logs.String(), "key_file="+keyFile) || !strings.Contains(logs.String(), "generated the key") {
		t.Errorf("the log does not say where the generated key is:\n%s", logs.String())
	}
	list, err := readKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := sealed.ParseKeys(list)
	if len(keys.IDs()) != 1 {
		t.Fatalf("the key file holds %d keys, want 1", len(keys.IDs()))
	}
	const (
		epSecret  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		srcSecret = "whsec_stripeFreshServe0123456789abcdef"
	)
	secrets, appID, epID := fillServer(t, srv, epSecret, srcSecret)
	ownerOnly(t, dir)
	if found := leaks(t, dir, keyFile, secrets); len(found) > 0 {
		t.Errorf("while serving, in the clear on disk: %v", found)
	}
	if err := srv.Shutdown(); err != nil {
		t.Fatal(err)
	}
	ownerOnly(t, dir)
	if found := leaks(t, dir, keyFile, secrets); len(found) > 0 {
		t.Errorf("after shutdown, in the clear on disk: %v", found)
	}

	logs = syncBuffer{}
	srv = startLogged(t, &logs, func(c *serveConfig) { c.DB = db })
	if strings.Contains(logs.String(), "generated the key") {
		t.Error("a second key was generated")
	}
	shown, err := svixClient(t, srv).Endpoint.GetSecret(ctx, appID, epID)
	if err != nil || shown.Key != epSecret {
		t.Fatalf("endpoint secret after a restart: %+v, %v", shown, err)
	}
	if s, p := storedKeys(t, srv); s != secrets["session key"] || p != secrets["portal token key"] {
		t.Error("the session or portal key changed across a restart")
	}
}

// TestServeSealsPlaintextDatabase: a database an older version kept in the
// clear (secrets, the session and portal keys, a rotated-away secret in
// its free space, readable by everyone) is sealed under a generated key
// at the first start of this version, made owner-only, and scrubbed: its
// file and log hold none of the secrets any more, and the server reads
// them all as before.
func TestServeSealsPlaintextDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "hookbridge.db")
	const (
		oldSecret  = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
		epSecret   = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		srcSecret  = "whsec_stripePlaintextDB0123456789abcdef"
		sessionKey = "q1QTtdtYMvUHHnQVMQdzr0VTNpJwFLbK0wNrSOPgRS4="
		portalKey  = "0oQjvW5SkL0dEkXS5KZfAN30P6U0x0wmm0yBm0gG3oA="
	)
	secrets := map[string]string{"endpoint secret": epSecret, "rotated-away secret": oldSecret,
		"source secret": srcSecret, "session key": sessionKey, "portal token key": portalKey}

	// As an older version left it.
	old, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	app := &hookbridge.Application{Name: "Shop", UID: "shop"}
	if err := old.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	ep := &hookbridge.Endpoint{AppID: app.ID, URL: "https://receiver.example/hooks", Secrets: []hookbridge.Secret{{Key: "whsec_first"}}}
	if err := old.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	src := &hookbridge.Source{Scheme: "stripe", Credentials: hookbridge.SourceCredentials{Secret: srcSecret},
		Routing: hookbridge.Routing{App: "shop"}, Rollout: hookbridge.Rollout{State: hookbridge.RolloutOn}}
	if err := old.CreateSource(ctx, src, "test"); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"ui_session_key": sessionKey, "portal_token_key": portalKey} {
		if _, err := old.PutSetting(ctx, name, v, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	// Its secret rotated by a version without secure_delete: the old one
	// stays in the file's free space.
	raw, err := sql.Open("sqlite", "file:"+db+"?_pragma=secure_delete(OFF)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE endpoints SET secrets = ? WHERE id = ?`, `[{"key":"`+oldSecret+`"},{"key":"whsec_`+strings.Repeat("p", 200)+`"}]`, ep.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE endpoints SET secrets = ? WHERE id = ?`, `[{"key":"`+epSecret+`"}]`, ep.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`PRAGMA user_version = 0`); err != nil { // as an older version's file is
		t.Fatal(err)
	}
	raw.Close()
	for _, name := range []string{db, db + "-lock"} {
		if err := os.Chmod(name, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if found := leaks(t, dir, "", secrets); len(found) < len(secrets) {
		t.Fatalf("the old database holds only %v: the test would prove nothing", found)
	}

	var logs syncBuffer
	srv := startLogged(t, &logs, func(c *serveConfig) { c.DB = db })
	if !strings.Contains(logs.String(), "generated the key") || !strings.Contains(logs.String(), "stored secrets sealed") {
		t.Errorf("the log does not say that a key was made and the secrets sealed:\n%s", logs.String())
	}
	keyFile := db + keyFileSuffix
	ownerOnly(t, dir)
	if found := leaks(t, dir, keyFile, secrets); len(found) > 0 {
		t.Errorf("after sealing, in the clear on disk: %v", found)
	}
	shown, err := svixClient(t, srv).Endpoint.GetSecret(ctx, app.ID, ep.ID)
	if err != nil || shown.Key != epSecret {
		t.Fatalf("endpoint secret after sealing: %+v, %v", shown, err)
	}
	if s, p := storedKeys(t, srv); s != sessionKey || p != portalKey {
		t.Error("the session or portal key changed when sealed")
	}
	if err := srv.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if found := leaks(t, dir, keyFile, secrets); len(found) > 0 {
		t.Errorf("after shutdown, in the clear on disk: %v", found)
	}
}

// sealedToken is a sealed value (package sealed).
var sealedToken = regexp.MustCompile(`hbenc1:[0-9a-f]+:[A-Za-z0-9_-]+`)

// sealedValues returns the stored (sealed) values of the endpoint's
// secrets, the sources' credentials and the session and portal keys,
// read from the SQLite file at db without disturbing its server.
func sealedValues(t *testing.T, db string) []string {
	t.Helper()
	conn, err := sql.Open("sqlite", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var out []string
	for _, q := range []string{
		`SELECT secrets FROM endpoints`, `SELECT credentials FROM sources`,
		`SELECT value FROM settings WHERE name IN ('ui_session_key', 'portal_token_key')`,
	} {
		rows, err := conn.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			found := sealedToken.FindAllString(v, -1)
			if len(found) == 0 {
				t.Fatalf("%s: %s is not sealed", q, v)
			}
			out = append(out, found...)
		}
		rows.Close()
	}
	if len(out) < 4 {
		t.Fatalf("%d sealed values, want at least 4", len(out))
	}
	return out
}

// TestRekeyWhileServing: `hookbridge rekey` on a SQLite database whose
// server runs moves every secret to a new key with no request failing:
// the server follows its key file, reseals and scrubs; the key file ends
// with the new key alone; neither the database file nor its log holds a
// value sealed under the old key, nor a secret in the clear; deliveries
// are signed with the endpoint's secret throughout. With no server
// running, rekey does the work itself. The server restarts on the key
// file either way.
func TestRekeyWhileServing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "hookbridge.db")
	keyFile := db + keyFileSuffix
	var logs syncBuffer
	fast := func(c *serveConfig) { c.DB, c.keyFileCheck = db, 20*time.Millisecond }
	srv := startLogged(t, &logs, fast)
	const (
		epSecret  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		srcSecret = "whsec_stripeRekeyServing0123456789abcdef"
	)
	secrets, appID, epID := fillServer(t, srv, epSecret, srcSecret)
	sx := svixClient(t, srv)
	recv := newReceiver(t)
	if _, err := sx.Endpoint.Update(ctx, appID, epID, svix.EndpointUpdate{Url: recv.URL + "/hooks"}); err != nil {
		t.Fatal(err)
	}
	before := sealedValues(t, db)
	oldList, _ := readKeyFile(keyFile)

	// Requests that read the secret, all through the rotation.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads, failures atomic.Int64
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			shown, err := sx.Endpoint.GetSecret(ctx, appID, epID)
			reads.Add(1)
			if err != nil || shown.Key != epSecret {
				failures.Add(1)
			}
		}
	})
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"rekey", "--db", db, "--wait", "30s"}, &out, &errOut)
	close(stop)
	wg.Wait()
	if code != 0 {
		t.Fatalf("rekey: exit %d\n%s%s\nserver log:\n%s", code, out.String(), errOut.String(), logs.String())
	}
	if n := failures.Load(); n > 0 || reads.Load() == 0 {
		t.Errorf("%d of %d reads of the secret failed during the rotation", n, reads.Load())
	}
	newList, err := readKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	newKeys, _ := sealed.ParseKeys(newList)
	oldKeys, _ := sealed.ParseKeys(oldList)
	if len(newKeys.IDs()) != 1 || newKeys.CurrentID() == oldKeys.CurrentID() {
		t.Fatalf("key file after rekey: %d keys, current %s (old %s)", len(newKeys.IDs()), newKeys.CurrentID(), oldKeys.CurrentID())
	}
	if !strings.Contains(out.String(), newKeys.CurrentID()) {
		t.Errorf("rekey does not name the new key:\n%s", out.String())
	}
	if n, scrubbing, err := sqlite.StaleSecrets(ctx, db, newKeys); err != nil || n != 0 || scrubbing {
		t.Fatalf("secrets not under the new key: %d, scrubbing %v, %v", n, scrubbing, err)
	}
	for i, v := range before {
		secrets["value sealed under the old key "+string(rune('a'+i))] = v
	}
	if found := leaks(t, dir, keyFile, secrets); len(found) > 0 {
		t.Errorf("after the rotation, still on disk: %v", found)
	}
	// Deliveries are signed with the secret, under the new key.
	if _, err := sx.Message.Create(ctx, appID, svix.MessageIn{EventType: "order.created", Payload: map[string]any{"id": 1}}, nil); err != nil {
		t.Fatal(err)
	}
	got := recv.next(t)
	wh, _ := svix.NewWebhook(epSecret)
	if err := wh.Verify(got.Body, got.Header); err != nil {
		t.Fatalf("delivery after the rotation not signed with the endpoint's secret: %v", err)
	}
	if err := srv.Shutdown(); err != nil {
		t.Fatal(err)
	}

	// No server: rekey reseals itself.
	before = sealedValues(t, db)
	out.Reset()
	if code := run(ctx, []string{"rekey", "--db", db}, &out, &errOut); code != 0 {
		t.Fatalf("rekey without a server: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	third, _ := readKeyFile(keyFile)
	if third == newList || strings.Contains(third, ",") {
		t.Fatalf("key file after the second rekey: %q", third)
	}
	for i, v := range before {
		secrets["value sealed under the second key "+string(rune('a'+i))] = v
	}
	if found := leaks(t, dir, keyFile, secrets); len(found) > 0 {
		t.Errorf("after the second rotation, still on disk: %v", found)
	}
	srv = startLogged(t, &logs, fast)
	shown, err := svixClient(t, srv).Endpoint.GetSecret(ctx, appID, epID)
	if err != nil || shown.Key != epSecret {
		t.Fatalf("endpoint secret after restarting on the rotated key: %+v, %v", shown, err)
	}
}

// TestPostgresNeedsKey: on PostgreSQL no key is generated (one instance's
// file would lock the others out): a start without one is refused, naming
// both ways to give it, and a key file named but missing is refused too.
func TestPostgresNeedsKey(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t)
	for _, cfg := range []serveConfig{
		{Addr: "127.0.0.1:0", DB: dsn, APIKey: testAPIKey},
		{Addr: "127.0.0.1:0", DB: dsn, APIKey: testAPIKey, SecretKeyFile: filepath.Join(t.TempDir(), "missing.key")},
	} {
		_, err := startServer(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), "--secret-key") {
			t.Errorf("start on PostgreSQL with key file %q: %v, want a usage error naming --secret-key", cfg.SecretKeyFile, err)
		}
	}
}

// TestRekeyPostgres: two instances share a PostgreSQL database and rotate
// its key one restart at a time, one instance always serving: both get
// "old,new", then "new,old"; `hookbridge rekey` with "new,old" seals
// every secret with the new key and says the old one may go; both then
// run on "new" alone. At every step each running instance reads the
// endpoint's secret, and a delivery is signed with it at the end.
func TestRekeyPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	oldKey, newKey := sealed.NewKey(), sealed.NewKey()
	var logs syncBuffer
	start := postgresStarter(t, &logs, dsn)
	const epSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	instances := []*server{start(oldKey), start(oldKey)}
	recv := newReceiver(t)
	sx := svixClient(t, instances[0])
	app, err := sx.Application.Create(ctx, svix.ApplicationIn{Name: "Shop", Uid: ptr("shop")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := sx.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: recv.URL + "/hooks", Secret: ptr(epSecret)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	createSourceCLI(t, instances[1], "--scheme", "stripe", "--secret", "whsec_stripeRekeyPostgres0123456789", "--app", "shop", "--state", "on")
	signInOnce(t, instances[1])
	readable := func(step string) {
		t.Helper()
		for i, srv := range instances {
			shown, err := svixClient(t, srv).Endpoint.GetSecret(ctx, app.Id, ep.Id)
			if err != nil || shown.Key != epSecret {
				t.Fatalf("%s: instance %d reads %+v, %v", step, i, shown, err)
			}
		}
	}
	roll := func(list string) {
		t.Helper()
		for i := range instances {
			if err := instances[i].Shutdown(); err != nil {
				t.Fatal(err)
			}
			instances[i] = start(list)
			readable("after restarting an instance with " + map[string]string{oldKey + "," + newKey: "old,new", newKey + "," + oldKey: "new,old", newKey: "new"}[list])
		}
	}
	readable("before")
	roll(oldKey + "," + newKey)
	roll(newKey + "," + oldKey)

	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"rekey", "--db", dsn, "--secret-key", newKey + "," + oldKey}, &out, &errOut); code != 0 {
		t.Fatalf("rekey: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	newID := instances[0].keys.CurrentID()
	if !strings.Contains(out.String(), "Every stored secret is sealed with key "+newID) {
		t.Fatalf("rekey does not say the old key may go:\n%s", out.String())
	}
	readable("after rekey")
	roll(newKey)
	if n, err := instances[0].store.StaleSecrets(ctx); err != nil || n != 0 {
		t.Fatalf("stale secrets on the new key alone: %d, %v", n, err)
	}
	if _, err := svixClient(t, instances[1]).Message.Create(ctx, app.Id, svix.MessageIn{EventType: "order.created", Payload: map[string]any{"id": 1}}, nil); err != nil {
		t.Fatal(err)
	}
	got := recv.next(t)
	wh, _ := svix.NewWebhook(epSecret)
	if err := wh.Verify(got.Body, got.Header); err != nil {
		t.Fatalf("delivery after the rotation not signed with the endpoint's secret: %v", err)
	}

	// A rekey whose list lacks the key in use refuses, and changes nothing.
	out.Reset()
	errOut.Reset()
	if code := run(ctx, []string{"rekey", "--db", dsn, "--secret-key", oldKey}, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "not configured") {
		t.Fatalf("rekey with a key that opens nothing: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	readable("after a refused rekey")
}

// postgresStarter starts instances on the PostgreSQL database dsn, each
// with the key list it is given, logging to logs.
func postgresStarter(t *testing.T, logs *syncBuffer, dsn string) func(list string) *server {
	return func(list string) *server {
		t.Helper()
		return startLogged(t, logs, func(c *serveConfig) { c.DB, c.SecretKey, c.Migrate = dsn, list, true })
	}
}

// TestKeyFileFollowed: serve follows its key file. A file that holds no
// valid key list is refused, logged, and changes nothing; a file that
// names a new key and leaves the old one out (a mistake: nothing would
// open the secrets) loses nothing, since the old key is held until every
// secret is sealed with the new one; the server then restarts on the file.
func TestKeyFileFollowed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "hookbridge.db")
	keyFile := db + keyFileSuffix
	var logs syncBuffer
	fast := func(c *serveConfig) { c.DB, c.keyFileCheck = db, 10*time.Millisecond }
	srv := startLogged(t, &logs, fast)
	const epSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	_, appID, epID := fillServer(t, srv, epSecret, "whsec_stripeKeyFileFollowed0123456789")
	logged := func(what string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for !strings.Contains(logs.String(), what) {
			select {
			case <-deadline:
				t.Fatalf("the log never said %q:\n%s", what, logs.String())
			case <-tick.C:
			}
		}
	}
	readable := func(step string) {
		t.Helper()
		shown, err := svixClient(t, srv).Endpoint.GetSecret(ctx, appID, epID)
		if err != nil || shown.Key != epSecret {
			t.Fatalf("%s: %+v, %v", step, shown, err)
		}
	}

	if err := replaceKeyFile(keyFile, "not a key"); err != nil {
		t.Fatal(err)
	}
	logged("holds no valid key list")
	readable("after a bad key file")

	newKey := sealed.NewKey()
	newKeys, _ := sealed.ParseKeys(newKey)
	if err := replaceKeyFile(keyFile, newKey); err != nil {
		t.Fatal(err)
	}
	logged("key_id=" + newKeys.CurrentID())
	readable("after a key file without the old key")
	if n, _, err := sqlite.StaleSecrets(ctx, db, newKeys); err != nil || n != 0 {
		t.Fatalf("secrets not under the file's key: %d, %v", n, err)
	}
	if got := srv.keys.IDs(); len(got) != 1 || got[0] != newKeys.CurrentID() {
		t.Fatalf("the server holds keys %v, want only the file's %s", got, newKeys.CurrentID())
	}
	if err := srv.Shutdown(); err != nil {
		t.Fatal(err)
	}
	srv = startLogged(t, &logs, fast)
	readable("after a restart on the file")
}

// TestRekeySQLiteKeyList: with the key given in the environment, a running
// serve on SQLite cannot be reached, and rekey says how to go about it;
// with serve stopped, rekey "new,old" seals everything with the new key
// and scrubs the old values, and serve starts on the new key alone.
func TestRekeySQLiteKeyList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "hookbridge.db")
	oldKey, newKey := sealed.NewKey(), sealed.NewKey()
	var logs syncBuffer
	srv := startLogged(t, &logs, func(c *serveConfig) { c.DB, c.SecretKey = db, oldKey })
	const epSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	secrets, appID, epID := fillServer(t, srv, epSecret, "whsec_stripeRekeyKeyList0123456789")
	if _, err := os.Stat(db + keyFileSuffix); !os.IsNotExist(err) {
		t.Fatalf("a key file was made although the key was given: %v", err)
	}
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"rekey", "--db", db, "--secret-key", newKey + "," + oldKey}, &out, &errOut); code == 0 ||
		!strings.Contains(errOut.String(), "cannot reach a running serve") {
		t.Fatalf("rekey with a key list while serve runs: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if err := srv.Shutdown(); err != nil {
		t.Fatal(err)
	}
	for i, v := range sealedValues(t, db) {
		secrets["value sealed under the old key "+string(rune('a'+i))] = v
	}
	out.Reset()
	errOut.Reset()
	if code := run(ctx, []string{"rekey", "--db", db, "--secret-key", newKey + "," + oldKey}, &out, &errOut); code != 0 ||
		!strings.Contains(out.String(), "Every stored secret is sealed with key") {
		t.Fatalf("rekey: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if found := leaks(t, dir, "", secrets); len(found) > 0 {
		t.Errorf("after the rotation, still on disk: %v", found)
	}
	srv = startLogged(t, &logs, func(c *serveConfig) { c.DB, c.SecretKey = db, newKey })
	if shown, err := svixClient(t, srv).Endpoint.GetSecret(ctx, appID, epID); err != nil || shown.Key != epSecret {
		t.Fatalf("endpoint secret on the new key alone: %+v, %v", shown, err)
	}
}

// TestBlankSecretKey: a --secret-key of blanks is refused rather than
// taken for no key, which would store the secrets in the clear.
func TestBlankSecretKey(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "hookbridge.db")
	_, err := startServer(context.Background(), serveConfig{Addr: "127.0.0.1:0", DB: db, APIKey: testAPIKey, SecretKey: "  "}, slog.New(slog.DiscardHandler), nil)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), "--secret-key") {
		t.Fatalf("start with a blank key: %v, want a usage error", err)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatal("a database was made for a refused start")
	}
}
