package sqlite

import (
	"context"
	"database/sql"

	"github.com/hookbridge/hookbridge/internal/storekit"
)

// SecretsReseal runs reseal (see storekit.Store.Reseal) in one write
// transaction: the writer is this process's, so nothing can change a row
// between its read and its write.
func (s driver) SecretsReseal(ctx context.Context, reseal func(tx storekit.ResealTx) error) error {
	return s.write(ctx, func(tx *sql.Tx) error { return reseal(resealTx{ctx, tx}) })
}

// resealTx is storekit.ResealTx on a write transaction.
type resealTx struct {
	ctx context.Context
	tx  *sql.Tx
}

func (r resealTx) Page(c storekit.SealedColumn, after string, limit int) ([]storekit.SealedRow, error) {
	page := `SELECT ` + c.Key + `, ` + c.Name + ` FROM ` + c.Table + ` WHERE ` + c.Key + ` > ? ORDER BY ` + c.Key + ` LIMIT ?`
	return collect(r.ctx, r.tx, page, []any{after, limit}, func(row rowScanner) (storekit.SealedRow, error) {
		var x storekit.SealedRow
		return x, row.Scan(&x.Key, &x.Data)
	})
}

// Update stores out as text: every sealed column is TEXT (STRICT tables
// check).
func (r resealTx) Update(c storekit.SealedColumn, row storekit.SealedRow, out []byte) (int64, error) {
	res, err := r.tx.ExecContext(r.ctx, `UPDATE `+c.Table+` SET `+c.Name+` = ? WHERE `+c.Key+` = ?`, string(out), row.Key)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
