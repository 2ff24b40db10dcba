package sqlite

import (
	"context"
	"time"
)

// SettingGet reads a setting's stored value.
func (s driver) SettingGet(ctx context.Context, name string) (string, error) {
	var v string
	err := s.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	return v, err
}

// SettingPut stores a setting's value, unless onlyIfAbsent and it has one.
func (s driver) SettingPut(ctx context.Context, name, value string, onlyIfAbsent bool, now time.Time) (int64, error) {
	const (
		insertSetting = `INSERT INTO settings (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`
		upsertSetting = `
			INSERT INTO settings (name, value, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`
	)
	query := upsertSetting
	if onlyIfAbsent {
		query = insertSetting
	}
	return s.exec(ctx, query, name, value, ms(now))
}
