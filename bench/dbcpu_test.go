package bench

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge/postgres/pgtest"
)

// TestCheckDatabaseAutovacuum: the bench accepts an empty PostgreSQL
// database, and warns, naming the setting, exactly when the server runs
// with autovacuum off (as CI's does).
func TestCheckDatabaseAutovacuum(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t)
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var autovacuum string
	if err := conn.QueryRow(t.Context(), `SELECT current_setting('autovacuum')`).Scan(&autovacuum); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	if err := checkDatabase(t.Context(), dsn, &stderr); err != nil {
		t.Fatalf("an empty database refused: %v", err)
	}
	if warned := strings.Contains(stderr.String(), "autovacuum is off"); warned != (autovacuum == "off") {
		t.Errorf("autovacuum %s: the bench printed %q", autovacuum, stderr.String())
	}
}
