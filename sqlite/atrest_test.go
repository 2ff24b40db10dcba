package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/sealed"
)

// onDisk returns which of values the database file at path or its log
// holds, byte for byte.
func onDisk(t *testing.T, path string, values ...string) []string {
	t.Helper()
	var found []string
	for _, v := range values {
		for _, name := range []string{path, path + "-wal"} {
			b, err := os.ReadFile(name)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(v)) {
				found = append(found, v+" in "+filepath.Base(name))
			}
		}
	}
	return found
}

// rawDB opens the file at path as an older Hookbridge did: no
// secure_delete, so what a write removes stays in the file.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_pragma=secure_delete(OFF)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func exec(t *testing.T, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func userVersion(t *testing.T, s *Store) int {
	t.Helper()
	var v int
	if err := s.w.QueryRowContext(t.Context(), `PRAGMA user_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestResealScrubsFile: once a database's secrets are sealed, neither the
// database file nor its log holds one in the clear, nor what an older
// version left in free space (an endpoint secret rotated away, a deleted
// setting); after a rotation neither holds a value sealed under the old
// key. Before each step, the file does hold them, so the check can fail.
func TestResealScrubsFile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hookbridge.db")
	const (
		endpointSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		rotatedAway    = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
		sourceSecret   = "whsec_stripe_0123456789abcdef"
		sessionKey     = "c2Vzc2lvbiBrZXkgb2YgdGhlIGRhc2hib2FyZCEh"
		deletedKey     = "ZGVsZXRlZCBzZXR0aW5nIG9mIGFuIG9sZCBvbmU="
	)
	plain := []string{endpointSecret, rotatedAway, sourceSecret, sessionKey, deletedKey}

	// A database written in the clear, as before keys were the default.
	s := openAt(t, path)
	app := &hookbridge.Application{Name: "Shop"}
	if err := s.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	ep := &hookbridge.Endpoint{AppID: app.ID, URL: "https://receiver.example/hook", Secrets: []hookbridge.Secret{{Key: "whsec_first"}}}
	if err := s.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	src := &hookbridge.Source{Scheme: "stripe", Credentials: hookbridge.SourceCredentials{Secret: sourceSecret},
		Routing: hookbridge.Routing{App: app.ID}, Rollout: hookbridge.Rollout{State: hookbridge.RolloutShadow}}
	if err := s.CreateSource(ctx, src, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutSetting(ctx, "ui_session_key", sessionKey, false); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw := rawDB(t, path)
	exec(t, raw, `UPDATE endpoints SET secrets = ? WHERE id = ?`, `[{"key":"`+rotatedAway+`"},{"key":"whsec_`+strings.Repeat("p", 200)+`"}]`, ep.ID)
	exec(t, raw, `UPDATE endpoints SET secrets = ? WHERE id = ?`, `[{"key":"`+endpointSecret+`"}]`, ep.ID)
	exec(t, raw, `INSERT INTO settings (name, value, updated_at) VALUES ('old', ?, 0)`, deletedKey)
	exec(t, raw, `DELETE FROM settings WHERE name = 'old'`)
	exec(t, raw, `PRAGMA user_version = 0`) // as an older version's file is
	exec(t, raw, `PRAGMA wal_checkpoint(TRUNCATE)`)
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	if found := onDisk(t, path, plain...); len(found) != len(plain) {
		t.Fatalf("before sealing, the file holds only %v", found)
	}

	// First start with a key: sealed, and scrubbed.
	aKey, bKey := sealed.NewKey(), sealed.NewKey()
	a, _ := sealed.ParseKeys(aKey)
	s = openAt(t, path, WithKeys(a))
	if n, err := s.Reseal(ctx); err != nil || n == 0 {
		t.Fatalf("Reseal: %d, %v", n, err)
	}
	if v := userVersion(t, s); v != fileUnknown {
		t.Fatalf("user_version %d after a reseal of an older version's file, want %d", v, fileUnknown)
	}
	if err := s.Scrub(ctx); err != nil {
		t.Fatal(err)
	}
	if found := onDisk(t, path, plain...); len(found) > 0 {
		t.Fatalf("after sealing, in the clear: %v", found)
	}
	if v := userVersion(t, s); v != fileScrubbed {
		t.Fatalf("user_version %d after the scrub, want %d", v, fileScrubbed)
	}
	got, err := s.GetEndpoint(ctx, app.ID, ep.ID)
	if err != nil || got.Secrets[0].Key != endpointSecret {
		t.Fatalf("endpoint after the scrub: %+v, %v", got, err)
	}
	// What a rotation must scrub: the values sealed under the old key.
	var sealedUnderA []string
	for _, q := range []string{
		`SELECT secrets FROM endpoints WHERE id = '` + ep.ID + `'`,
		`SELECT credentials FROM sources WHERE id = '` + src.ID + `'`,
		`SELECT value FROM settings WHERE name = 'ui_session_key'`,
	} {
		var v string
		if err := s.r.QueryRowContext(ctx, q).Scan(&v); err != nil {
			t.Fatal(err)
		}
		sealedUnderA = append(sealedUnderA, v)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if found := onDisk(t, path, sealedUnderA...); len(found) != len(sealedUnderA) {
		t.Fatalf("before the rotation, the file holds only %v", found)
	}

	// A rotation: the values sealed under the old key are gone too.
	ba, _ := sealed.ParseKeys(bKey + "," + aKey)
	s = openAt(t, path, WithKeys(ba))
	defer s.Close()
	if n, err := s.StaleSecrets(ctx); err != nil || n == 0 {
		t.Fatalf("stale before the rotation: %d, %v", n, err)
	}
	if n, err := s.Reseal(ctx); err != nil || n == 0 {
		t.Fatalf("Reseal: %d, %v", n, err)
	}
	if v := userVersion(t, s); v != fileResealed {
		t.Fatalf("user_version %d after a rotation, want %d", v, fileResealed)
	}
	// Another process (hookbridge rekey) sees the reseal done, and the
	// scrub still to come.
	b, _ := sealed.ParseKeys(bKey)
	if n, scrubbing, err := StaleSecrets(ctx, path, b); err != nil || n != 0 || !scrubbing {
		t.Fatalf("StaleSecrets from outside: %d, scrubbing %v, %v; want 0, scrubbing", n, scrubbing, err)
	}
	if n, _, err := StaleSecrets(ctx, path, a); err != nil || n == 0 {
		t.Fatalf("StaleSecrets with the old key alone: %d, %v; want every row", n, err)
	}
	if err := s.Scrub(ctx); err != nil {
		t.Fatal(err)
	}
	if found := onDisk(t, path, append(sealedUnderA, plain...)...); len(found) > 0 {
		t.Fatalf("after the rotation, still in the file: %v", found)
	}
	if _, scrubbing, err := StaleSecrets(ctx, path, b); err != nil || scrubbing {
		t.Fatalf("after the scrub: scrubbing %v, %v", scrubbing, err)
	}
	// Nothing resealed, nothing to scrub: the file stays as it is.
	if n, err := s.Reseal(ctx); err != nil || n != 0 {
		t.Fatalf("Reseal again: %d, %v", n, err)
	}
	if v := userVersion(t, s); v != fileScrubbed {
		t.Fatalf("user_version %d after a reseal that changed nothing, want %d", v, fileScrubbed)
	}
}

// TestScrubResumes: a reseal whose scrub did not run (a crash after its
// commit, here a close that is not the file's last, which leaves the log
// as it is) leaves the file marked, with the former value in the log; the
// next Scrub clears both, although nothing was left to seal.
func TestScrubResumes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hookbridge.db")
	s := openAt(t, path)
	if v := userVersion(t, s); v != fileScrubbed {
		t.Fatalf("user_version %d of a new file, want %d", v, fileScrubbed)
	}
	keep := rawDB(t, path) // another connection: closing the store does not checkpoint
	exec(t, keep, `SELECT 1`)
	const plain = "cGxhaW4gdGV4dCBsZWZ0IGJ5IGEgY3Jhc2g="
	if _, err := s.PutSetting(ctx, "k", plain, false); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	keys, _ := sealed.ParseKeys(sealed.NewKey())
	s = openAt(t, path, WithKeys(keys))
	if n, err := s.Reseal(ctx); err != nil || n != 1 {
		t.Fatalf("Reseal: %d, %v", n, err)
	}
	if err := s.Close(); err != nil { // the "crash": no scrub
		t.Fatal(err)
	}
	if found := onDisk(t, path, plain); len(found) == 0 {
		t.Fatal("the former value is not in the log to begin with")
	}
	s = openAt(t, path, WithKeys(keys))
	defer s.Close()
	if v := userVersion(t, s); v != fileResealed {
		t.Fatalf("user_version %d, want %d", v, fileResealed)
	}
	if n, err := s.Reseal(ctx); err != nil || n != 0 {
		t.Fatalf("Reseal: %d, %v; want 0 rows", n, err)
	}
	if err := s.Scrub(ctx); err != nil {
		t.Fatal(err)
	}
	if found := onDisk(t, path, plain); len(found) > 0 {
		t.Fatalf("not scrubbed: %v", found)
	}
	if v := userVersion(t, s); v != fileScrubbed {
		t.Fatalf("user_version %d, want %d", v, fileScrubbed)
	}
}

// TestScrubOlderFile: a file of an older version is rewritten once by
// Scrub (its free space may hold what it wrote without secure_delete),
// even when nothing needed sealing; it builds its copy in a file, and the
// writer keeps temp_store MEMORY after.
func TestScrubOlderFile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hookbridge.db")
	keys, _ := sealed.ParseKeys(sealed.NewKey())
	s := openAt(t, path, WithKeys(keys))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	const leftover = "cGxhaW4gdGV4dCBsZWZ0IGJ5IGFuIG9sZGVyIG9uZQ=="
	raw := rawDB(t, path)
	exec(t, raw, `INSERT INTO settings (name, value, updated_at) VALUES ('old', ?, 0)`, leftover)
	exec(t, raw, `DELETE FROM settings WHERE name = 'old'`)
	exec(t, raw, `PRAGMA user_version = 0`)
	exec(t, raw, `PRAGMA wal_checkpoint(TRUNCATE)`)
	raw.Close()
	if found := onDisk(t, path, leftover); len(found) == 0 {
		t.Fatal("the leftover is not in the file to begin with")
	}
	s = openAt(t, path, WithKeys(keys))
	defer s.Close()
	if n, err := s.Reseal(ctx); err != nil || n != 0 {
		t.Fatalf("Reseal: %d, %v; want 0 rows", n, err)
	}
	if err := s.Scrub(ctx); err != nil {
		t.Fatal(err)
	}
	if found := onDisk(t, path, leftover); len(found) > 0 {
		t.Fatalf("not scrubbed: %v", found)
	}
	if v := userVersion(t, s); v != fileScrubbed {
		t.Fatalf("user_version %d, want %d", v, fileScrubbed)
	}
	var tempStore int
	if err := s.w.QueryRowContext(ctx, `PRAGMA temp_store`).Scan(&tempStore); err != nil || tempStore != 2 {
		t.Fatalf("temp_store after the scrub: %d, %v; want 2 (MEMORY)", tempStore, err)
	}
}

// TestSecureDelete: what a write removes is overwritten, on the store's
// own connections, so a deleted secret does not stay in the file.
func TestSecureDelete(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hookbridge.db")
	s := openAt(t, path)
	defer s.Close()
	const gone = "ZGVsZXRlZCBzZWNyZXQgdmFsdWUgMTIzNDU2Nzg="
	if _, err := s.PutSetting(ctx, "gone", gone, false); err != nil {
		t.Fatal(err)
	}
	if found := onDisk(t, path, gone); len(found) == 0 {
		t.Fatal("the setting is not in the file to begin with")
	}
	if _, err := s.exec(ctx, `DELETE FROM settings WHERE name = 'gone'`); err != nil {
		t.Fatal(err)
	}
	exec(t, s.w, `PRAGMA wal_checkpoint(TRUNCATE)`)
	if found := onDisk(t, path, gone); len(found) > 0 {
		t.Fatalf("deleted, yet in the file: %v", found)
	}
}

// TestEndpointCredentialsSealed: the password of a broker URL, a NATS
// token and the values of endpoint headers are sealed like endpoint
// secrets: neither the database file nor its log holds them once written
// with a key, or once an older version's rows (in the clear) are resealed
// and the file scrubbed; the store gives them back as they were. Before the
// reseal, the file does hold them, so the check can fail.
func TestEndpointCredentialsSealed(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hookbridge.db")
	const (
		brokerPassword = "Br0kerPassw0rd-7f3a9c"
		natsToken      = "NatsT0ken-5d2e8b41"
		headerValue    = "Bearer tok_HeaderValue_91c4e7"
	)
	plain := []string{brokerPassword, natsToken, headerValue}
	endpoints := func(app string) []*hookbridge.Endpoint {
		return []*hookbridge.Endpoint{
			{AppID: app, URL: "amqp://hook:" + brokerPassword + "@127.0.0.1:5672/orders?exchange=webhooks",
				Headers: map[string]string{"Authorization": headerValue, "X-Plain": "not secret"}},
			{AppID: app, URL: "nats://" + natsToken + "@127.0.0.1:4222/orders.paid"},
			{AppID: app, URL: "https://receiver.example/hook"},
		}
	}
	check := func(s *Store, want []*hookbridge.Endpoint) {
		t.Helper()
		for _, ep := range want {
			got, err := s.GetEndpoint(ctx, ep.AppID, ep.ID)
			if err != nil || got.URL != ep.URL || fmt.Sprint(got.Headers) != fmt.Sprint(ep.Headers) {
				t.Errorf("endpoint read back: %+v, %v; want URL %s, headers %v", got, err, ep.URL, ep.Headers)
			}
		}
	}

	// An older version's rows, in the clear.
	s := openAt(t, path)
	app := &hookbridge.Application{Name: "Shop"}
	if err := s.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	old := endpoints(app.ID)
	for _, ep := range old {
		if err := s.CreateEndpoint(ctx, ep); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if found := onDisk(t, path, plain...); len(found) != len(plain) {
		t.Fatalf("in the clear, the file holds only %v", found)
	}

	// With a key: resealed and scrubbed, and read back as they were.
	keys, _ := sealed.ParseKeys(sealed.NewKey())
	s = openAt(t, path, WithKeys(keys))
	defer s.Close()
	if n, err := s.Reseal(ctx); err != nil || n < 3 {
		t.Fatalf("Reseal: %d rows, %v; want the two URLs and the headers", n, err)
	}
	if err := s.Scrub(ctx); err != nil {
		t.Fatal(err)
	}
	if found := onDisk(t, path, plain...); len(found) > 0 {
		t.Fatalf("after the reseal, in the clear: %v", found)
	}
	if n, err := s.StaleSecrets(ctx); err != nil || n != 0 {
		t.Fatalf("StaleSecrets after the reseal: %d, %v", n, err)
	}
	check(s, old)

	// Written with the key: never in the clear.
	fresh := endpoints(app.ID)
	for _, ep := range fresh {
		ep.URL = strings.Replace(strings.Replace(ep.URL, brokerPassword, "N3wBrokerPass-a41c", 1), natsToken, "N3wNatsTok-66b0", 1)
		if ep.Headers != nil {
			ep.Headers["Authorization"] = "Bearer tok_N3wHeader_0c2d"
		}
		if err := s.CreateEndpoint(ctx, ep); err != nil {
			t.Fatal(err)
		}
	}
	ep := fresh[0]
	ep.URL = strings.Replace(ep.URL, "N3wBrokerPass-a41c", "Upd4tedPass-e19f", 1)
	if err := s.UpdateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	check(s, fresh)
	if _, err := s.w.ExecContext(ctx, checkpointTruncate); err != nil {
		t.Fatal(err)
	}
	if found := onDisk(t, path, "N3wBrokerPass-a41c", "N3wNatsTok-66b0", "tok_N3wHeader_0c2d", "Upd4tedPass-e19f"); len(found) > 0 {
		t.Fatalf("written with a key, in the clear: %v", found)
	}
	var stored string
	if err := s.r.QueryRowContext(ctx, `SELECT url FROM endpoints WHERE id = ?`, fresh[2].ID).Scan(&stored); err != nil || stored != fresh[2].URL {
		t.Fatalf("a URL without credentials is stored as %q, %v; want it as it is", stored, err)
	}
}
