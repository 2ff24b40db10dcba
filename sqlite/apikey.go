package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

func scanAPIKey(row rowScanner) (hookbridge.APIKey, error) {
	var (
		k                hookbridge.APIKey
		created, updated int64
		used             sql.NullInt64
	)
	if err := row.Scan(&k.ID, &k.Name, &k.Scope, &k.Hash, &created, &updated, &used); err != nil {
		return k, err
	}
	k.CreatedAt, k.UpdatedAt = fromMS(created), fromMS(updated)
	if used.Valid {
		k.LastUsedAt = fromMS(used.Int64)
	}
	return k, nil
}

// APIKeyInsert inserts k as it is.
func (s driver) APIKeyInsert(ctx context.Context, k *hookbridge.APIKey) error {
	const insert = `INSERT INTO api_keys (id, name, scope, hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, insert, k.ID, k.Name, k.Scope, k.Hash, ms(k.CreatedAt), ms(k.UpdatedAt))
		return err
	})
}

// APIKeyGet reads the key with id.
func (s driver) APIKeyGet(ctx context.Context, id string) (hookbridge.APIKey, error) {
	return scanAPIKey(s.r.QueryRowContext(ctx, `SELECT `+storekit.APIKeyColumns+` FROM api_keys WHERE id = ?`, id))
}

// APIKeyList reads a page of keys by id.
func (s driver) APIKeyList(ctx context.Context, opt hookbridge.ListOptions, limit int) ([]hookbridge.APIKey, error) {
	where, args, orderBy := keyset("id", opt, hookbridge.OrderAscending)
	list := `SELECT ` + storekit.APIKeyColumns + ` FROM api_keys WHERE ` + where + orderBy + ` LIMIT ?`
	return collect(ctx, s.r, list, append(args, limit+1), scanAPIKey)
}

// APIKeyRotate sets the key's hash; see storekit.Driver.
func (s driver) APIKeyRotate(ctx context.Context, id, hash string, now time.Time) (hookbridge.APIKey, error) {
	const rotate = `UPDATE api_keys SET hash = ?, updated_at = ? WHERE id = ? RETURNING ` + storekit.APIKeyColumns
	var k hookbridge.APIKey
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		k, err = scanAPIKey(tx.QueryRowContext(ctx, rotate, hash, ms(now), id))
		return err
	})
	return k, err
}

// APIKeyDelete deletes the key with id.
func (s driver) APIKeyDelete(ctx context.Context, id string) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM api_keys WHERE id = ?`, id)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// APIKeyTouch sets the key's last use; see storekit.Driver.
func (s driver) APIKeyTouch(ctx context.Context, id string, at, before time.Time) error {
	const touch = `UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, touch, ms(at), id, ms(before))
		return err
	})
}
