package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"

	"github.com/hookbridge/hookbridge/internal/storekit"
	"github.com/hookbridge/hookbridge/sealed"
)

// SecretsReseal runs reseal (see storekit.Store.Reseal) in one write
// transaction: the writer is this process's, so nothing can change a row
// between its read and its write.
//
// A reseal that changed rows leaves their former values (plain text, or
// sealed under a key being retired) behind it: in the write-ahead log, and
// in pages written before secure_delete was on. So the transaction also
// marks the file (scrubPending), and once it has committed the file is
// scrubbed (scrub) and the mark cleared. A crash or a failure between the
// two leaves the mark, and the next call scrubs.
func (s driver) SecretsReseal(ctx context.Context, reseal func(tx storekit.ResealTx) error) error {
	var pending bool
	err := s.write(ctx, func(tx *sql.Tx) error {
		r := &resealTx{ctx: ctx, tx: tx}
		if err := reseal(r); err != nil {
			return err
		}
		if r.wrote > 0 {
			if _, err := tx.ExecContext(ctx, `PRAGMA user_version = `+strconv.Itoa(scrubPending)); err != nil {
				return fmt.Errorf("mark the file for scrubbing: %w", err)
			}
			pending = true
			return nil
		}
		var v int
		if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
			return err
		}
		pending = v == scrubPending
		return nil
	})
	if err != nil || !pending {
		return err
	}
	return s.scrub(ctx)
}

// scrubPending is the user_version (a number in the file's header that
// SQLite leaves to the application, unused otherwise) of a file whose
// resealed secrets have not been scrubbed yet: set in the transaction
// that reseals, cleared by scrub.
const scrubPending = 1

// scrub leaves in the file only what its rows hold now: a checkpoint moves
// the log into the database file and empties the log (TRUNCATE), VACUUM
// rewrites the database from its live rows alone (leaving no free page or
// free space with an old value; secure_delete then keeps it so), and a
// last checkpoint empties the log VACUUM wrote to. It runs outside any
// transaction (VACUUM must), on the writer connection, which it waits
// for; a reader still reading when a checkpoint has waited busyTimeout
// makes it fail, leaving the mark for the next try. VACUUM builds its copy
// in a temporary file rather than in memory (temp_store), since the copy
// is as large as the database.
func (s *Store) scrub(ctx context.Context) error {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("scrub the former values of resealed secrets: %w", err)
	}
	defer conn.Close()
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA temp_store = MEMORY`) //nolint:errcheck // as writerParams set it
	steps := []string{checkpointTruncate, `PRAGMA temp_store = FILE`, `VACUUM`, checkpointTruncate, `PRAGMA user_version = 0`, checkpointTruncate}
	for _, q := range steps {
		if q != checkpointTruncate {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("scrub the former values of resealed secrets: %s: %w", q, err)
			}
			continue
		}
		var busy, frames, done int
		if err := conn.QueryRowContext(ctx, q).Scan(&busy, &frames, &done); err != nil {
			return fmt.Errorf("scrub the former values of resealed secrets: checkpoint: %w", err)
		}
		if busy != 0 {
			return errors.New("scrub the former values of resealed secrets: checkpoint: readers kept the log busy; it is tried again on the next start")
		}
	}
	return nil
}

// checkpointTruncate copies the whole log into the database file and
// truncates the log to nothing; it answers (busy, log frames, frames
// checkpointed).
const checkpointTruncate = `PRAGMA wal_checkpoint(TRUNCATE)`

// resealTx is storekit.ResealTx on a write transaction (or, for
// StaleSecrets, a read-only one). wrote counts the rows it updated.
type resealTx struct {
	ctx   context.Context
	tx    *sql.Tx
	wrote int64
}

func (r *resealTx) Page(c storekit.SealedColumn, after string, limit int) ([]storekit.SealedRow, error) {
	page := `SELECT ` + c.Key + `, ` + c.Name + ` FROM ` + c.Table + ` WHERE ` + c.Key + ` > ? ORDER BY ` + c.Key + ` LIMIT ?`
	return collect(r.ctx, r.tx, page, []any{after, limit}, func(row rowScanner) (storekit.SealedRow, error) {
		var x storekit.SealedRow
		return x, row.Scan(&x.Key, &x.Data)
	})
}

// Update stores out as text: every sealed column is TEXT (STRICT tables
// check).
func (r *resealTx) Update(c storekit.SealedColumn, row storekit.SealedRow, out []byte) (int64, error) {
	res, err := r.tx.ExecContext(r.ctx, `UPDATE `+c.Table+` SET `+c.Name+` = ? WHERE `+c.Key+` = ?`, string(out), row.Key)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	r.wrote += n
	return n, err
}

// StaleSecrets is storekit.Store.StaleSecrets on the database at path
// while another process (a running serve) has it open: it reads it in one
// read-only transaction, as Backup does, and counts the secrets that keys
// would seal again or cannot open. `hookbridge rekey` waits with it for a
// server to reseal under a new key.
func StaleSecrets(ctx context.Context, path string, keys *sealed.Keyring) (int, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+
		"?mode=ro&_busy_timeout="+strconv.FormatInt(busyTimeout.Milliseconds(), 10))
	if err != nil {
		return 0, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	n, err := storekit.CountStale(keys, (&resealTx{ctx: ctx, tx: tx}).Page)
	if err != nil {
		return 0, fmt.Errorf("sqlite: %s: count stale secrets: %w", path, err)
	}
	return n, nil
}
