package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/hookbridge/hookbridge/sealed"
)

// Reseal brings the secrets stored to the store's keys (WithKeys): every
// endpoint secret and source credential sealed with an older key, or not
// sealed at all, is sealed again with the current key, in one transaction.
// Without keys it checks that nothing is sealed. It returns how many rows
// it changed; an error names a row whose secrets the keys cannot open,
// and changes nothing.
func (s *Store) Reseal(ctx context.Context) (int, error) {
	var n int
	err := s.write(ctx, func(tx *sql.Tx) error {
		n = 0
		type row struct{ id, data string }
		read := func(query string) ([]row, error) {
			return collect(ctx, tx, query, nil, func(r rowScanner) (row, error) {
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
			if err := json.Unmarshal([]byte(e.data), &stored); err != nil {
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
			if _, err := tx.ExecContext(ctx, `UPDATE endpoints SET secrets = ? WHERE id = ?`,
				encodeSecrets(s.keys, e.id, secrets), e.id); err != nil {
				return err
			}
			n++
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
			if err := s.keys.OpenJSON([]byte(src.data), src.id, &creds); err != nil {
				return fmt.Errorf("source %s: credentials: %w", src.id, err)
			}
			sealedCreds, err := s.keys.SealJSON(creds, src.id)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE sources SET credentials = ? WHERE id = ?`, string(sealedCreds), src.id); err != nil {
				return err
			}
			n++
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
func credentialsFresh(keys *sealed.Keyring, data string) bool {
	var v string
	if json.Unmarshal([]byte(data), &v) != nil {
		return keys == nil // an object: not sealed
	}
	return keys.Fresh(v)
}
