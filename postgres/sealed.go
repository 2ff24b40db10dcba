package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge/sealed"
)

// Reseal brings the secrets stored to the store's keys (WithKeys): every
// endpoint secret, source credential and setting sealed with an older key,
// or not sealed at all, is sealed again with the current key. Without keys it
// checks that nothing is sealed. It returns how many rows it changed; an
// error names a row whose secrets the keys cannot open, and changes
// nothing. Each row is written only if it still holds what was read, so a
// change made meanwhile (through the API, or by another instance
// resealing) is kept.
func (s *Store) Reseal(ctx context.Context) (int, error) {
	type row struct {
		id   string
		data []byte
	}
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		n = 0
		for _, c := range sealed.Columns {
			page := `SELECT ` + c.Key + `, ` + c.Name + ` FROM ` + c.Table + ` WHERE ` + c.Key + ` > $1 ORDER BY ` + c.Key + ` LIMIT $2`
			for after := ""; ; {
				rows, err := collect(ctx, tx, page, []any{after, sealed.ResealPage}, func(r pgx.Row) (row, error) {
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
					tag, err := tx.Exec(ctx, `UPDATE `+c.Table+` SET `+c.Name+` = $1 WHERE `+c.Key+` = $2 AND `+c.Name+` = $3`,
						out, r.id, r.data)
					if err != nil {
						return err
					}
					n += int(tag.RowsAffected())
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
