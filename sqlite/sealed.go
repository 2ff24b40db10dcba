package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/hookbridge/hookbridge/sealed"
)

// Reseal brings the secrets stored to the store's keys (WithKeys): every
// endpoint secret, source credential and setting sealed with an older key,
// or not sealed at all, is sealed again with the current key, in one transaction.
// Without keys it checks that nothing is sealed. It returns how many rows
// it changed; an error names a row whose secrets the keys cannot open,
// and changes nothing.
func (s *Store) Reseal(ctx context.Context) (int, error) {
	type row struct {
		id   string
		data []byte
	}
	var n int
	err := s.write(ctx, func(tx *sql.Tx) error {
		n = 0
		for _, c := range sealed.Columns {
			page := `SELECT ` + c.Key + `, ` + c.Name + ` FROM ` + c.Table + ` WHERE ` + c.Key + ` > ? ORDER BY ` + c.Key + ` LIMIT ?`
			for after := ""; ; {
				rows, err := collect(ctx, tx, page, []any{after, sealed.ResealPage}, func(r rowScanner) (row, error) {
					var x row
					return x, r.Scan(&x.id, &x.data)
				})
				if err != nil {
					return err
				}
				for _, r := range rows {
					out, changed, err := c.Reseal(s.keys, r.data, r.id)
					if err != nil {
						return fmt.Errorf("%s %s: %s: %w", c.What, r.id, c.Name, err)
					}
					if !changed {
						continue
					}
					if _, err := tx.ExecContext(ctx, `UPDATE `+c.Table+` SET `+c.Name+` = ? WHERE `+c.Key+` = ?`, columnValue(c, out), r.id); err != nil {
						return err
					}
					n++
				}
				if len(rows) < sealed.ResealPage {
					break
				}
				after = rows[len(rows)-1].id
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("reseal secrets: %w", err)
	}
	return n, nil
}

// columnValue is out as c keeps it: bytes or text (STRICT tables check).
func columnValue(c sealed.Column, out []byte) any {
	if c.Binary {
		return out
	}
	return string(out)
}
