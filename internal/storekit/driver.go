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

	EventTypeInsert(ctx context.Context, et *hookbridge.EventType) error
	EventTypeGet(ctx context.Context, name string) (hookbridge.EventType, error)
	// EventTypeUpdate writes et's mutable fields, updated at now, and
	// returns its stored created_at.
	EventTypeUpdate(ctx context.Context, et *hookbridge.EventType, now time.Time) (created time.Time, err error)
	EventTypeDelete(ctx context.Context, name string) (deleted int64, err error)
	EventTypeList(ctx context.Context, opt hookbridge.ListOptions, includeArchived bool, limit int) ([]hookbridge.EventType, error)
	// EventTypeKnown returns those of names in the catalogue, not archived.
	EventTypeKnown(ctx context.Context, names []string) ([]string, error)

	// EndpointInsert inserts ep and records its EventEndpointCreated, in
	// one transaction; a missing application is ENOTFOUND or ErrMissingRef.
	EndpointInsert(ctx context.Context, ep *hookbridge.Endpoint) error
	// EndpointGet reads the application's endpoint with id (byID) or uid key.
	EndpointGet(ctx context.Context, appID string, byID bool, key string) (hookbridge.Endpoint, error)
	// EndpointUpdate writes ep's mutable fields, updated at now, keeping
	// the dispatcher's (FailingSince, PausedUntil) except that enabling a
	// disabled endpoint clears them, and records its EventEndpointUpdated;
	// it sets ep.CreatedAt, FailingSince and PausedUntil from the row.
	EndpointUpdate(ctx context.Context, ep *hookbridge.Endpoint, now time.Time) error
	// EndpointDelete deletes the endpoint (the foreign keys cascade to its
	// deliveries and attempts) and records its EventEndpointDeleted at now.
	EndpointDelete(ctx context.Context, appID, id string, now time.Time) error
	EndpointList(ctx context.Context, appID string, opt hookbridge.ListOptions, limit int) ([]hookbridge.Endpoint, error)
}
