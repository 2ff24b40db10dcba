// Package pgtest gives tests an empty PostgreSQL schema or database of
// their own, on the server named by HOOKBRIDGE_TEST_POSTGRES, and drops it
// when the test ends.
//
// Without HOOKBRIDGE_TEST_POSTGRES the tests that need PostgreSQL are
// skipped, except under CI (CI=true), where a missing database is a
// failure: CI must not pass by running nothing.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the database the tests may use, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable. Tests create
// and drop their own schemas and databases in it; they need the rights to.
const EnvVar = "HOOKBRIDGE_TEST_POSTGRES"

// DSN returns the test server's DSN, or skips the test (fails it under CI)
// when none is configured.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvVar)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must run the PostgreSQL tests", EnvVar)
		}
		t.Skipf("%s is not set: skipping the PostgreSQL tests", EnvVar)
	}
	return dsn
}

// Schema creates an empty schema named hb_test_<random> and returns a DSN
// whose search_path selects it. The schema is dropped, with everything in
// it, when the test ends.
func Schema(t testing.TB) string {
	t.Helper()
	dsn := DSN(t)
	name := "hb_test_" + random(t)
	exec(t, dsn, `CREATE SCHEMA `+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() { exec(t, dsn, `DROP SCHEMA `+pgx.Identifier{name}.Sanitize()+` CASCADE`) })
	return withParam(t, dsn, "search_path", name)
}

// Database creates an empty database named prefix_<random> and returns a
// DSN for it. The database is dropped when the test ends, after the
// connections still open to it are ended.
func Database(t testing.TB, prefix string) string {
	t.Helper()
	dsn := DSN(t)
	name := prefix + "_" + random(t)
	exec(t, dsn, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() { exec(t, dsn, `DROP DATABASE `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`) })
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("%s: %v", EnvVar, err)
		}
		u.Path = "/" + name
		return u.String()
	}
	return dsn + " dbname=" + name
}

// withParam adds a connection parameter to a URL or key=value DSN.
func withParam(t testing.TB, dsn, key, value string) string {
	t.Helper()
	if !strings.Contains(dsn, "://") {
		return dsn + " " + key + "=" + value
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s: %v", EnvVar, err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// exec runs one statement on a connection of its own.
func exec(t testing.TB, dsn, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvVar, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func random(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}
