package postgres

import (
	"context"
	"time"
)

// SettingGet reads a setting's stored value.
func (s driver) SettingGet(ctx context.Context, name string) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	return v, err
}

// SettingPut stores a setting's value, unless onlyIfAbsent and it has one:
// when several instances start at once, ON CONFLICT arbitrates, and
// exactly one of them stores its value.
func (s driver) SettingPut(ctx context.Context, name, value string, onlyIfAbsent bool, now time.Time) (int64, error) {
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
	return s.exec(ctx, query, name, value, now)
}
