package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

func scanAPIKey(row pgx.Row) (hookbridge.APIKey, error) {
	var (
		k    hookbridge.APIKey
		used *time.Time
	)
	if err := row.Scan(&k.ID, &k.Name, &k.Scope, &k.Hash, &k.CreatedAt, &k.UpdatedAt, &used); err != nil {
		return k, err
	}
	k.CreatedAt, k.UpdatedAt = k.CreatedAt.UTC(), k.UpdatedAt.UTC()
	if used != nil {
		k.LastUsedAt = used.UTC()
	}
	return k, nil
}

// APIKeyInsert inserts k as it is.
func (s driver) APIKeyInsert(ctx context.Context, k *hookbridge.APIKey) error {
	const insert = `INSERT INTO api_keys (id, name, scope, hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)`
	_, err := s.pool.Exec(ctx, insert, k.ID, k.Name, k.Scope, k.Hash, k.CreatedAt, k.UpdatedAt)
	return err
}

// APIKeyGet reads the key with id.
func (s driver) APIKeyGet(ctx context.Context, id string) (hookbridge.APIKey, error) {
	return scanAPIKey(s.pool.QueryRow(ctx, `SELECT `+storekit.APIKeyColumns+` FROM api_keys WHERE id = $1`, id))
}

// APIKeyList reads a page of keys by id.
func (s driver) APIKeyList(ctx context.Context, opt hookbridge.ListOptions, limit int) ([]hookbridge.APIKey, error) {
	var q query
	tail := q.keyset("id", opt, hookbridge.OrderAscending, limit)
	list := `SELECT ` + storekit.APIKeyColumns + ` FROM api_keys WHERE ` + q.clause() + tail
	return collect(ctx, s.pool, list, q.args, scanAPIKey)
}

// APIKeyRotate sets the key's hash; see storekit.Driver.
func (s driver) APIKeyRotate(ctx context.Context, id, hash string, now time.Time) (hookbridge.APIKey, error) {
	const rotate = `UPDATE api_keys SET hash = $1, updated_at = $2 WHERE id = $3 RETURNING ` + storekit.APIKeyColumns
	return scanAPIKey(s.pool.QueryRow(ctx, rotate, hash, now, id))
}

// APIKeyDelete deletes the key with id.
func (s driver) APIKeyDelete(ctx context.Context, id string) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM api_keys WHERE id = $1`, id)
	return tag.RowsAffected(), err
}

// APIKeyTouch sets the key's last use; see storekit.Driver.
func (s driver) APIKeyTouch(ctx context.Context, id string, at, before time.Time) error {
	const touch = `UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)`
	_, err := s.pool.Exec(ctx, touch, at, id, before)
	return err
}
