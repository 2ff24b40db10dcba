package storekit

import (
	"context"
	"time"

	"github.com/hookbridge/hookbridge"
)

// Driver is what a store package gives Store: its queries, one method a
// statement or a short transaction, with the database's answer as it is
// (a driver's "no rows" is sql.ErrNoRows, its constraint errors are
// marked, see Mark). Methods named after an entity and a verb, as River's
// riverdriver names them, so that they do not collide with the
// hookbridge.Store methods they serve. A List method fetches limit+1 rows
// of its page (see ListOptions for the keyset).
type Driver interface {
	ApplicationInsert(ctx context.Context, app *hookbridge.Application) error
	// ApplicationGet reads the application with id key (byID) or uid key.
	ApplicationGet(ctx context.Context, byID bool, key string) (hookbridge.Application, error)
	// ApplicationUpdate writes app's mutable fields, updated at now, and
	// returns its stored created_at.
	ApplicationUpdate(ctx context.Context, app *hookbridge.Application, now time.Time) (created time.Time, err error)
	ApplicationDelete(ctx context.Context, id string) (deleted int64, err error)
	ApplicationList(ctx context.Context, opt hookbridge.ListOptions, limit int) ([]hookbridge.Application, error)
}
