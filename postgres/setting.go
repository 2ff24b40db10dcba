package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

// Setting returns the value of a server-wide setting, or ENOTFOUND. Values
// are sealed with the store's keys, like other secrets: some are keys.
func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	const getSetting = `SELECT value FROM settings WHERE name = $1`
	var v string
	err := s.pool.QueryRow(ctx, getSetting, name).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", hookbridge.NotFound("setting")
	}
	if err != nil {
		return "", fmt.Errorf("setting %s: %w", name, err)
	}
	if v, err = s.keys.Open(v, name); err != nil {
		return "", fmt.Errorf("setting %s: %w", name, err)
	}
	return v, nil
}

// PutSetting stores a setting. With onlyIfAbsent an existing value is kept,
// which makes "first start wins" (e.g. generating the admin key) safe when
// several instances start at once: ON CONFLICT arbitrates, and exactly one
// of them stores its value.
func (s *Store) PutSetting(ctx context.Context, name, value string, onlyIfAbsent bool) (bool, error) {
	const (
		insertSetting = `INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`
		upsertSetting = `
			INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`
	)
	query := upsertSetting
	if onlyIfAbsent {
		query = insertSetting
	}
	tag, err := s.pool.Exec(ctx, query, name, s.keys.Seal(value, name), storekit.TruncMS(s.now()))
	if err != nil {
		return false, fmt.Errorf("put setting %s: %w", name, err)
	}
	return tag.RowsAffected() > 0, nil
}
