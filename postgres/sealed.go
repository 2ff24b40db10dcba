package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge/sealed"
)

// Reseal brings the secrets stored to the store's keys (WithKeys): every
// endpoint secret and source credential sealed with an older key, or not
// sealed at all, is sealed again with the current key. Without keys it
// checks that nothing is sealed. It returns how many rows it changed; an
// error names a row whose secrets the keys cannot open, and changes
// nothing. Each row is written only if it still holds what was read, so a
// change made meanwhile (by the API, or another instance resealing) is
// kept; instances that start together with the same keys reseal each row
// at most once between them.
func (s *Store) Reseal(ctx context.Context) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		n = 0
		type row struct {
			id   string
			data []byte
		}
		read := func(query string) ([]row, error) {
			return collect(ctx, tx, query, nil, func(r pgx.Row) (row, error) {
				var x row
				return x, r.Scan(&x.id, &x.data)
			})
		}
		endpoints, err := read(`SELECT id, secrets FROM endpoints`)
		if err != nil {
			return err
		}
		for _, e := range endpoints {
			var stored []secretJSON
			if err := json.Unmarshal(e.data, &stored); err != nil {
				return fmt.Errorf("endpoint %s: secrets: %w", e.id, err)
			}
			fresh := true
			for _, sec := range stored {
				fresh = fresh && s.keys.Fresh(sec.Key)
			}
			if fresh {
				continue
			}
			secrets, err := decodeSecrets(s.keys, e.id, stored)
			if err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, `UPDATE endpoints SET secrets = $1 WHERE id = $2 AND secrets = $3::jsonb`,
				encodeSecrets(s.keys, e.id, secrets), e.id, string(e.data))
			if err != nil {
				return err
			}
			n += int(tag.RowsAffected())
		}
		sources, err := read(`SELECT id, credentials FROM sources`)
		if err != nil {
			return err
		}
		for _, src := range sources {
			if credentialsFresh(s.keys, src.data) {
				continue
			}
			var creds any
			if err := s.keys.OpenJSON(src.data, src.id, &creds); err != nil {
				return fmt.Errorf("source %s: credentials: %w", src.id, err)
			}
			resealed, err := s.keys.SealJSON(creds, src.id)
			if err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, `UPDATE sources SET credentials = $1 WHERE id = $2 AND credentials = $3::jsonb`,
				resealed, src.id, string(src.data))
			if err != nil {
				return err
			}
			n += int(tag.RowsAffected())
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("reseal secrets: %w", err)
	}
	return n, nil
}

// credentialsFresh says whether a credentials column is stored as keys
// would store it now.
func credentialsFresh(keys *sealed.Keyring, data []byte) bool {
	var v string
	if json.Unmarshal(data, &v) != nil {
		return keys == nil // an object: not sealed
	}
	return keys.Fresh(v)
}
