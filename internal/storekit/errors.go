package storekit

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/hookbridge/hookbridge"
)

// The kinds of driver error the Store contract gives a meaning to. A store
// marks its driver's error with one (Mark) where the driver reports it;
// "no rows" needs no mark: it is sql.ErrNoRows, which pgx's ErrNoRows also
// is.
var (
	// ErrDuplicate: a UNIQUE index or primary key refused a value.
	ErrDuplicate = errors.New("duplicate value")
	// ErrStale: a conditional update found its row changed since the
	// caller read it (the UpdatedAt of an endpoint, application or event
	// type).
	ErrStale = errors.New("changed since it was read")
	// ErrMissingRef: a foreign key refused a value, the row it names
	// being gone.
	ErrMissingRef = errors.New("referenced row missing")
	// ErrUnavailable: the database cannot write for now, for a reason
	// that passes: the disk is full, the file system or the database is
	// read-only (a PostgreSQL standby, one in recovery), the database is
	// down or unreachable. It is the domain's EUNAVAILABLE, so that a
	// marked error answers 503 with Retry-After wherever it surfaces,
	// wrapped or not, and a caller knows to retry.
	ErrUnavailable error = &hookbridge.Error{Code: hookbridge.EUNAVAILABLE,
		Message: "the store cannot write for now (disk full, read-only or unreachable); retry later"}
)

// Mark returns err marked as kind (ErrDuplicate, ErrMissingRef,
// ErrUnavailable), so that
// errors.Is(err, kind) holds; its text stays the driver's. Nil stays nil.
func Mark(err, kind error) error {
	if err == nil {
		return nil
	}
	return marked{err: err, kind: kind}
}

type marked struct{ err, kind error }

func (m marked) Error() string   { return m.err.Error() }
func (m marked) Unwrap() []error { return []error{m.err, m.kind} }

// IsNoRows reports whether err is a driver's "no rows".
func IsNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// Err is what a store returns for err, the outcome of its statements about
// one what (an entity: "application", "endpoint", …): nil stays nil, "no
// rows" is ENOTFOUND for what (unless what is "": then no row is a failure
// like any other), a duplicate is taken (when taken is not nil), a domain
// error (an *hookbridge.Error a statement's rule returned,
// such as a missing parent) passes as it is, and anything else, a failure
// of the database, is wrapped with the operation, format (ErrUnavailable
// too, so that the log keeps the driver's words).
func Err(err error, what string, taken error, format string, args ...any) error {
	var de *hookbridge.Error
	switch {
	case err == nil:
		return nil
	case what != "" && IsNoRows(err):
		return hookbridge.NotFound(what)
	case taken != nil && errors.Is(err, ErrDuplicate):
		return taken
	case errors.As(err, &de) && error(de) != ErrUnavailable:
		return de
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// oneChanged is Err for a statement that must change a row of what: one that
// changed none (n == 0) is ENOTFOUND.
func oneChanged(n int64, err error, what string, format string, args ...any) error {
	if err != nil {
		return Err(err, what, nil, format, args...)
	}
	if n == 0 {
		return hookbridge.NotFound(what)
	}
	return nil
}

// Found is the answer of an existence check of what: ENOTFOUND unless ok.
// Writes check their parent rows in their transaction so that a missing
// one is reported as such rather than as a foreign key failure.
func Found(ok bool, err error, what string) error {
	if err != nil {
		return err
	}
	if !ok {
		return hookbridge.NotFound(what)
	}
	return nil
}

// lookup finds one what by its id or by its other unique key (the uid of
// an application or an endpoint, the event id of a message), as every
// Get…(idOrUID) of the Store does: a key shaped like an id of prefix is
// looked up as an id first, anything else, or an id-shaped key that
// matches no id, as the other key. get runs the query by id (byID) or by
// the other key.
func lookup[T any](key, prefix, what string, get func(byID bool) (T, error)) (*T, error) {
	if hookbridge.HasPrefix(key, prefix) {
		v, err := get(true)
		if err == nil {
			return &v, nil
		}
		if !IsNoRows(err) {
			return nil, fmt.Errorf("get %s %s: %w", what, key, err)
		}
	}
	v, err := get(false)
	if err != nil {
		return nil, Err(err, what, nil, "get %s %s", what, key)
	}
	return &v, nil
}

// The conflicts the Store reports for a unique value already taken.

// applicationUIDTaken is the conflict of a duplicate application uid.
func applicationUIDTaken(uid string) error {
	return hookbridge.Errorf(hookbridge.ECONFLICT, "an application with uid %q already exists", uid)
}

// endpointUIDTaken is the conflict of a duplicate endpoint uid.
func endpointUIDTaken(uid string) error {
	return hookbridge.Errorf(hookbridge.ECONFLICT, "an endpoint with uid %q already exists in this application", uid)
}

// eventTypeTaken is the conflict of a duplicate event type name.
func eventTypeTaken(name string) error {
	return hookbridge.Errorf(hookbridge.ECONFLICT, "event type %q already exists", name)
}

// sourceIDTaken is the conflict of a duplicate source id.
func sourceIDTaken(id string) error {
	return hookbridge.Errorf(hookbridge.ECONFLICT, "a source with id %q already exists", id)
}

// inboundEventIDTaken is the conflict of a duplicate inbound event id.
func inboundEventIDTaken(id string) error {
	return hookbridge.Errorf(hookbridge.ECONFLICT, "an inbound event with id %q already exists", id)
}

// missingParent is ENOTFOUND for what when err is a foreign key's refusal
// (ErrMissingRef): the parent row the write named, of kind what, is gone.
// Other errors pass as they are.
func missingParent(err error, what string) error {
	if errors.Is(err, ErrMissingRef) {
		return hookbridge.NotFound(what)
	}
	return err
}
