package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge/internal/storekit"
)

// SecretsReseal runs reseal (see storekit.Store.Reseal) in one
// transaction. Each row is written only if it still holds what was read,
// so a change made meanwhile (through the API, or by another instance
// resealing) is kept.
func (s driver) SecretsReseal(ctx context.Context, reseal func(tx storekit.ResealTx) error) error {
	return s.inTx(ctx, func(tx pgx.Tx) error { return reseal(resealTx{ctx, tx}) })
}

// resealTx is storekit.ResealTx on a transaction.
type resealTx struct {
	ctx context.Context
	tx  pgx.Tx
}

func (r resealTx) Page(c storekit.SealedColumn, after string, limit int) ([]storekit.SealedRow, error) {
	page := `SELECT ` + c.Key + `, ` + c.Name + ` FROM ` + c.Table + ` WHERE ` + c.Key + ` > $1 ORDER BY ` + c.Key + ` LIMIT $2`
	return collect(r.ctx, r.tx, page, []any{after, limit}, func(row pgx.Row) (storekit.SealedRow, error) {
		var x storekit.SealedRow
		return x, row.Scan(&x.Key, &x.Data)
	})
}

func (r resealTx) Update(c storekit.SealedColumn, row storekit.SealedRow, out []byte) (int64, error) {
	tag, err := r.tx.Exec(r.ctx, `UPDATE `+c.Table+` SET `+c.Name+` = $1 WHERE `+c.Key+` = $2 AND `+c.Name+` = $3`,
		out, row.Key, row.Data)
	return tag.RowsAffected(), err
}
