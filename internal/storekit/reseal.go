package storekit

import (
	"context"
	"fmt"

	"github.com/hookbridge/hookbridge/sealed"
)

// SealedColumn is a column of sealed values in both stores' schema: in
// each row of Table (whose key column is Key), the column Name holds
// What's secrets, which reseal brings to a Keyring. The stores own this
// list; package sealed knows nothing of the schema.
type SealedColumn struct {
	What, Table, Key, Name string
	reseal                 func(k *sealed.Keyring, data []byte, rowID string) (out []byte, changed bool, err error)
}

// sealedColumns are the columns the stores seal: endpoint signing secrets
// (a JSON array of objects whose "key" is sealed, see
// sealed.Keyring.ResealKeys), the credentials of endpoint URLs (SealURL)
// and the values of endpoint headers (SealHeaders), the private keys of
// endpoints' client certificates and their OAuth client secrets (text),
// source credentials (SealJSON), and settings
// (their values as text: the keys that sign portal tokens and sessions,
// among others). The responses kept for Idempotency-Key retries and the raw
// bodies of inbound events are sealed as they are written (SealBytes) but
// not resealed: there can be millions, they live a day (raw bodies, until
// raw retention drops them), and one that no configured key opens counts
// as gone.
var sealedColumns = [...]SealedColumn{
	{"endpoint", "endpoints", "id", "secrets", (*sealed.Keyring).ResealKeys},
	{"endpoint", "endpoints", "id", "url", resealURL},
	{"endpoint", "endpoints", "id", "headers", resealHeaders},
	{"endpoint", "endpoint_mtls", "endpoint_id", "key", (*sealed.Keyring).ResealText},
	{"endpoint", "endpoint_oauth", "endpoint_id", "client_secret", (*sealed.Keyring).ResealText},
	{"source", "sources", "id", "credentials", (*sealed.Keyring).ResealJSON},
	{"setting", "settings", "name", "value", (*sealed.Keyring).ResealText},
}

// ResealPage is how many rows Reseal reads at a time, so that its memory
// does not grow with the tables.
const ResealPage = 1000

// SealedRow is one row of a SealedColumn: its key and the column's value.
type SealedRow struct {
	Key  string
	Data []byte
}

// ResealTx is what Reseal needs of the driver's transaction.
type ResealTx interface {
	// Page reads up to limit rows of c with a key after after, by key.
	Page(c SealedColumn, after string, limit int) ([]SealedRow, error)
	// Update writes out as c's value of row, and returns how many rows it
	// wrote: none when the row no longer holds what was read (a store
	// shared by several instances checks; one owned by one process need
	// not).
	Update(c SealedColumn, row SealedRow, out []byte) (int64, error)
}

// Reseal brings the secrets stored to the store's keys: every value
// sealed with an older key, or not sealed at all, is sealed again with the
// current key, in the driver's one transaction. Without keys it checks
// that nothing is sealed. It returns how many rows it changed; an error
// names a row whose secrets the keys cannot open, and changes nothing.
func (s *Store) Reseal(ctx context.Context) (int, error) {
	var n int
	err := s.d.SecretsReseal(ctx, func(tx ResealTx) error {
		n = 0
		return eachSealed(tx.Page, func(c SealedColumn, r SealedRow) error {
			out, changed, err := c.reseal(s.keys, r.Data, r.Key)
			if err != nil {
				return fmt.Errorf("%s %s: %s: %w", c.What, r.Key, c.Name, err)
			}
			if !changed {
				return nil
			}
			wrote, err := tx.Update(c, r, out)
			n += int(wrote)
			return err
		})
	})
	if err != nil {
		return 0, fmt.Errorf("reseal secrets: %w", err)
	}
	return n, nil
}

// StaleSecrets counts the rows whose secrets are not stored as the
// store's keys would store them now (see sealed.Keyring.Fresh): under
// another key than the current one, or not sealed. It changes nothing.
// After a Reseal on a store no other process writes with other keys, it
// is 0; a key may be dropped from the list once it is.
func (s *Store) StaleSecrets(ctx context.Context) (int, error) {
	var n int
	err := s.d.SecretsReseal(ctx, func(tx ResealTx) error {
		var err error
		n, err = CountStale(s.keys, tx.Page)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("count stale secrets: %w", err)
	}
	return n, nil
}

// CountStale is StaleSecrets over page (ResealTx.Page): for a tool that
// reads a store without opening it as a Store (the SQLite file of a
// running server, read-only).
func CountStale(keys *sealed.Keyring, page func(c SealedColumn, after string, limit int) ([]SealedRow, error)) (int, error) {
	n := 0
	err := eachSealed(page, func(c SealedColumn, r SealedRow) error {
		if _, changed, err := c.reseal(keys, r.Data, r.Key); err != nil || changed {
			n++
		}
		return nil
	})
	return n, err
}

// eachSealed calls fn with every row of every sealed column, read through
// page ResealPage rows at a time, and stops at fn's first error.
func eachSealed(page func(c SealedColumn, after string, limit int) ([]SealedRow, error), fn func(c SealedColumn, r SealedRow) error) error {
	for _, c := range sealedColumns {
		for after := ""; ; {
			rows, err := page(c, after, ResealPage)
			if err != nil {
				return err
			}
			for _, r := range rows {
				if err := fn(c, r); err != nil {
					return err
				}
			}
			if len(rows) < ResealPage {
				break
			}
			after = rows[len(rows)-1].Key
		}
	}
	return nil
}
