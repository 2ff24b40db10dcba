package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

// PostgreSQL error codes the store turns into domain errors.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"

	// The database cannot write for now (storekit.ErrUnavailable).
	codeDiskFull          = "53100" // disk_full
	codeReadOnlyTx        = "25006" // read_only_sql_transaction: a standby, or default_transaction_read_only
	codeAdminShutdown     = "57P01" // admin_shutdown: the server is stopping
	codeCrashShutdown     = "57P02" // crash_shutdown
	codeCannotConnectNow  = "57P03" // cannot_connect_now: starting up, or in recovery
	classConnectionFailed = "08"    // connection_exception and its kin
)

// pgCode returns the SQLSTATE of err, or "".
func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// markErr marks PostgreSQL's constraint errors (storekit.ErrDuplicate,
// storekit.ErrMissingRef) and its failures to write at all
// (storekit.ErrUnavailable) for the rules above the SQL.
func markErr(err error) error {
	switch code := pgCode(err); {
	case code == codeUniqueViolation:
		return storekit.Mark(err, storekit.ErrDuplicate)
	case code == codeForeignKeyViolation:
		return storekit.Mark(err, storekit.ErrMissingRef)
	case isUnavailable(err, code):
		return storekit.Mark(err, storekit.ErrUnavailable)
	}
	return err
}

// isUnavailable reports whether err, of SQLSTATE code, is PostgreSQL
// unable to write for a reason that passes: its disk is full, it is
// read-only (a standby, a primary in recovery), it is stopping or
// starting, or it cannot be reached (the connection failed or was lost).
func isUnavailable(err error, code string) bool {
	switch code {
	case codeDiskFull, codeReadOnlyTx, codeAdminShutdown, codeCrashShutdown, codeCannotConnectNow:
		return true
	}
	if strings.HasPrefix(code, classConnectionFailed) {
		return true
	}
	if code != "" {
		return false
	}
	var connErr *pgconn.ConnectError
	var netErr *net.OpError
	return errors.As(err, &connErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}

// Times are timestamptz with millisecond precision; the zero time.Time is
// NULL where a column is optional.

// timeOrNull is the stored form of an optional time.
func timeOrNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = storekit.TruncMS(t)
	return &t
}

// fromNullTime converts a stored optional time back, in UTC.
func fromNullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// nullString stores "" as NULL, for optional unique values such as uids.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// fromNullString reads NULL back as "".
func fromNullString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// nullInt32 stores a nil *int as NULL.
func nullInt32(p *int) *int32 {
	if p == nil {
		return nil
	}
	v := int32(*p)
	return &v
}

// fromNullInt32 converts a stored optional int back.
func fromNullInt32(p *int32) *int {
	if p == nil {
		return nil
	}
	v := int(*p)
	return &v
}

// jsonList is the stored form of a list of names: never NULL, '[]' when
// empty, so SQL can always treat it as an array.
func jsonList(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// jsonMap is the stored form of a map: never NULL, '{}' when empty.
func jsonMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// query builds a statement whose WHERE clause is a list of AND-ed
// conditions, numbering the $n placeholders as arguments are added.
type query struct {
	conds []string
	args  []any
}

// arg adds an argument and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

// where adds a condition.
func (q *query) where(cond string) { q.conds = append(q.conds, cond) }

// clause is the WHERE condition: the conditions AND-ed, or TRUE.
func (q *query) clause() string {
	if len(q.conds) == 0 {
		return "TRUE"
	}
	return strings.Join(q.conds, " AND ")
}

// keyset adds the condition for paging by a sort key column (rows after the
// iterator in the list's order) and returns the ORDER BY and LIMIT, which
// fetches one row more than limit. def is the list's default order.
func (q *query) keyset(col string, opt hookbridge.ListOptions, def hookbridge.Ordering, limit int) string {
	dir, op := "ASC", ">"
	if storekit.Descending(opt, def) {
		dir, op = "DESC", "<"
	}
	if opt.Iterator != "" {
		q.where(col + " " + op + " " + q.arg(opt.Iterator))
	}
	return " ORDER BY " + col + " " + dir + " LIMIT " + q.arg(limit+1)
}

// messageFilter adds the conditions shared by the message, endpoint-message
// and attempt lists on the message m and on a time column.
func (q *query) messageFilter(eventTypes []string, channel string, timeCol string, before, after time.Time) {
	if len(eventTypes) > 0 {
		q.where(`m.event_type = ANY(` + q.arg(eventTypes) + `)`)
	}
	if channel != "" {
		q.where(`m.channels @> jsonb_build_array(` + q.arg(channel) + `::text)`)
	}
	if !before.IsZero() {
		q.where(timeCol + ` < ` + q.arg(storekit.TruncMS(before)))
	}
	if !after.IsZero() {
		q.where(timeCol + ` > ` + q.arg(storekit.TruncMS(after)))
	}
}

// querier is what the pool, a connection and a transaction have in common.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// collect runs a query and scans every row with scan.
func collect[T any](ctx context.Context, q querier, sql string, args []any, scan func(pgx.Row) (T, error)) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
}
