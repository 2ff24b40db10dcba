package postgres

import (
	"context"
	"fmt"

	"github.com/hookbridge/hookbridge/internal/storekit"
)

// Setting returns the value of a server-wide setting, or ENOTFOUND. Values
// are sealed with the store's keys, like other secrets: some are keys.
func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	return storekit.OpenSetting(s.keys, name, v, err)
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
	n, err := s.exec(ctx, query, name, s.keys.Seal(value, name), storekit.TruncMS(s.now()))
	if err != nil {
		return false, fmt.Errorf("put setting %s: %w", name, err)
	}
	return n > 0, nil
}
