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
// sealed under a key being retired) behind it, in the write-ahead log and
// in the database file's pages not yet checkpointed. So the transaction
// also marks a clean file as needing a scrub (see fileUnknown), which Scrub
// then does.
func (s driver) SecretsReseal(ctx context.Context, reseal func(tx storekit.ResealTx) error) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		r := &resealTx{ctx: ctx, tx: tx}
		if err := reseal(r); err != nil {
			return err
		}
		if r.wrote == 0 {
			return nil
		}
		var state int
		if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&state); err != nil {
			return err
		}
		if state != fileScrubbed {
			return nil // a scrub is due already, as thorough as this one's or more
		}
		if _, err := tx.ExecContext(ctx, `PRAGMA user_version = `+strconv.Itoa(fileResealed)); err != nil {
			return fmt.Errorf("mark the file for scrubbing: %w", err)
		}
		return nil
	})
}

// A database file's state, kept as its user_version (a number in the
// file's header that SQLite leaves to the application, and that nothing
// else here uses): whether its pages may still hold values that sealing
// replaced. The transaction that changes what is stored changes the state
// with it, so a crash never loses a scrub that is due.
const (
	// fileUnknown: a file written by an older version, whose free space
	// may hold anything it wrote without secure_delete — plain-text
	// secrets, say. Scrub rewrites it whole (VACUUM), once.
	fileUnknown = 0
	// fileResealed: a file written with secure_delete throughout, since
	// its last scrub or since it was made, in which a reseal has since
	// replaced values. What they were is in the log and in pages not yet
	// checkpointed: a checkpoint that empties the log takes it away.
	fileResealed = 1
	// fileScrubbed: nothing that was replaced is left in the file; Open
	// gives a new file this state, and Scrub any file it scrubbed.
	fileScrubbed = 2
)

// Scrub leaves in the database file and its log only what the rows hold
// now, as its state (see fileUnknown) requires: nothing for a scrubbed file;
// for a resealed one, a checkpoint that moves the log into the database
// file and truncates the log (with secure_delete, the pages it writes hold
// nothing removed); for a file of an older version, that checkpoint, then
// VACUUM, which rewrites the database from its live rows alone, then a
// checkpoint of what VACUUM wrote. It runs outside any transaction (VACUUM
// must), on the writer connection, which it waits for. VACUUM builds its
// copy in a temporary file rather than in memory (temp_store), since the
// copy is as large as the database, and needs as much free disk space. A
// reader still reading when a checkpoint has waited busyTimeout makes it
// fail; the state is then kept for the next call.
func (s *Store) Scrub(ctx context.Context) error {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: scrub: %w", err)
	}
	defer conn.Close()
	var state int
	if err := conn.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&state); err != nil {
		return fmt.Errorf("sqlite: scrub: %w", err)
	}
	var steps []string
	switch state {
	case fileScrubbed:
		return nil
	case fileResealed:
		steps = []string{checkpointTruncate}
	default:
		defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA temp_store = MEMORY`) //nolint:errcheck // as writerParams set it
		steps = []string{checkpointTruncate, `PRAGMA temp_store = FILE`, `VACUUM`, checkpointTruncate}
	}
	steps = append(steps, `PRAGMA user_version = `+strconv.Itoa(fileScrubbed), checkpointTruncate)
	for _, q := range steps {
		if q != checkpointTruncate {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("sqlite: scrub the former values of resealed secrets: %s: %w", q, err)
			}
			continue
		}
		var busy, frames, done int
		if err := conn.QueryRowContext(ctx, q).Scan(&busy, &frames, &done); err != nil {
			return fmt.Errorf("sqlite: scrub the former values of resealed secrets: checkpoint: %w", err)
		}
		if busy != 0 {
			return errors.New("sqlite: scrub the former values of resealed secrets: checkpoint: readers kept the log busy")
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
// would seal again or cannot open; scrubbing says whether a Scrub is still
// to come. `hookbridge rekey` waits with it for a server to reseal and
// scrub under a new key.
func StaleSecrets(ctx context.Context, path string, keys *sealed.Keyring) (stale int, scrubbing bool, err error) {
	if _, err := os.Stat(path); err != nil {
		return 0, false, fmt.Errorf("sqlite: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+
		"?mode=ro&_busy_timeout="+strconv.FormatInt(busyTimeout.Milliseconds(), 10))
	if err != nil {
		return 0, false, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, false, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	n, err := storekit.CountStale(keys, (&resealTx{ctx: ctx, tx: tx}).Page)
	if err != nil {
		return 0, false, fmt.Errorf("sqlite: %s: count stale secrets: %w", path, err)
	}
	var mark int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&mark); err != nil {
		return 0, false, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	return n, mark != fileScrubbed, nil
}
