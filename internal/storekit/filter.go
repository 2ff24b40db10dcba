package storekit

import (
	"sync"
	"sync/atomic"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/filter"
)

// Endpoint filters (hookbridge.Endpoint.Filter) are evaluated here, in Go,
// at fan-out: the drivers read an application's endpoints whole for the
// fan-out anyway, the filter with them, so an application without filters
// costs nothing more than before, and one with filters costs no extra
// query. A filter is compiled once per endpoint and expression and kept
// (filterCache); the message's payload is decoded once per message, and
// only if one of the endpoints it could go to has a filter (Fan).
//
// A filter that fails on a message (a field the payload lacks, a type that
// does not fit, the cost limit) does not match: the endpoint is not owed
// the message. It is counted (FilterCounts), as is every delivery a filter
// left out, so that an operator can tell a filter that never matches from
// one that fails.

// maxCachedFilters bounds the compiled filters kept: past it the cache is
// emptied and refilled by the fan-outs that follow. Endpoints deleted
// through another instance (or with their application) leave their entry
// behind until then.
const maxCachedFilters = 10_000

// filterCache keeps compiled filters by endpoint id, each with the
// expression it was compiled from, so that a changed filter (changed by
// any instance) is compiled afresh when the fan-out next reads it.
type filterCache struct {
	programs sync.Map // endpoint id → *compiledFilter
	n        atomic.Int64

	skipped atomic.Int64 // deliveries not written: the filter did not match
	failed  atomic.Int64 // evaluations that failed (not matched)
}

// compiledFilter is a filter as compiled: the program, or the error that
// an expression stored before it was checked (or checked by another
// version) gives.
type compiledFilter struct {
	expr string
	prg  *filter.Program
	err  error
}

// program returns the compiled filter expr of the endpoint with id.
func (c *filterCache) program(id, expr string) (*filter.Program, error) {
	if v, ok := c.programs.Load(id); ok {
		if cf := v.(*compiledFilter); cf.expr == expr {
			return cf.prg, cf.err
		}
	}
	prg, err := filter.Compile(expr)
	c.keep(id, &compiledFilter{expr: expr, prg: prg, err: err})
	return prg, err
}

func (c *filterCache) keep(id string, cf *compiledFilter) {
	if c.n.Load() >= maxCachedFilters {
		c.programs.Clear()
		c.n.Store(0)
	}
	if _, replaced := c.programs.Swap(id, cf); !replaced {
		c.n.Add(1)
	}
}

// forget drops the endpoint's compiled filter.
func (c *filterCache) forget(id string) {
	if _, ok := c.programs.LoadAndDelete(id); ok {
		c.n.Add(-1)
	}
}

// checkFilter compiles the filter of an endpoint about to be stored, and
// keeps it for the fan-outs to come: an expression that does not compile
// is EINVALID, and never stored.
func (s *Store) checkFilter(ep *hookbridge.Endpoint) error {
	if ep.Filter == "" {
		return nil
	}
	prg, err := filter.Compile(ep.Filter)
	if err != nil {
		return hookbridge.Errorf(hookbridge.EINVALID, "filter: %v", err)
	}
	if ep.ID != "" {
		s.filters.keep(ep.ID, &compiledFilter{expr: ep.Filter, prg: prg})
	}
	return nil
}

// FilterCounts are what endpoint filters did in this process since it
// started: deliveries not written because a filter did not match, and,
// of those, evaluations that failed. A write that the store runs again
// (a group commit rolled back and retried) counts again.
type FilterCounts struct {
	Skipped, Failed int64
}

// FilterCounts returns the counts of the filters this store evaluated.
func (s *Store) FilterCounts() FilterCounts {
	return FilterCounts{Skipped: s.filters.skipped.Load(), Failed: s.filters.failed.Load()}
}

// Fan is the fan-out of one new message: which of its application's
// endpoints are owed it (Owed). A driver makes one per message, with Fan.
type Fan struct {
	s    *Store
	msg  *hookbridge.Message
	only string

	in      *filter.Input // the message as filters see it, once one needs it
	inErr   error
	decoded bool
}

// Fan returns the fan-out of msg: to every endpoint that Accepts it and
// whose filter, if any, matches it, or, when only is set
// (CreateMessageTo), to that endpoint alone, whatever its filters say.
func (s *Store) Fan(msg *hookbridge.Message, only string) Fan {
	return Fan{s: s, msg: msg, only: only}
}

// Owed reports whether the message gets a delivery to e.
func (f *Fan) Owed(e *hookbridge.Endpoint) bool {
	ok, filtered, err := f.owes(e)
	if filtered && !ok {
		f.s.filters.skipped.Add(1)
		if err != nil {
			f.s.filters.failed.Add(1)
		}
	}
	return ok
}

// owes is Owed uncounted: whether e is owed the message, whether its
// filter said so (filtered), and the filter's error if it failed.
func (f *Fan) owes(e *hookbridge.Endpoint) (ok, filtered bool, err error) {
	if f.only != "" {
		return e.ID == f.only, false, nil
	}
	if !e.Accepts(f.msg.EventType, f.msg.Channels) {
		return false, false, nil
	}
	if e.Filter == "" {
		return true, false, nil
	}
	ok, err = f.match(e)
	return ok, true, err
}

// match evaluates e's filter on the message.
func (f *Fan) match(e *hookbridge.Endpoint) (bool, error) {
	prg, err := f.s.filters.program(e.ID, e.Filter)
	if err != nil {
		return false, err
	}
	if !f.decoded {
		f.in, f.inErr = filter.NewInput(f.msg.EventType, f.msg.Channels, f.msg.Payload)
		f.decoded = true
	}
	if f.inErr != nil {
		return false, f.inErr
	}
	return prg.Match(f.in)
}
