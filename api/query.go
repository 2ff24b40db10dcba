package api

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookbridge/hookbridge"
)

// pageQuery is a list request's paging: the store's options, plus whether
// the caller asked for the page before its iterator (Svix's "-" prefixed
// prevIterator) rather than after it.
type pageQuery struct {
	opt  hookbridge.ListOptions
	prev bool
}

// listParams reads the paging parameters every list takes: limit (1 to 250,
// default 50), iterator (validated by validIter, which names what it must
// be) and, when ordered, order. The default order is def; a "-" iterator
// reverses it, so the store reads backwards from the iterator and the page
// is flipped back before it is written.
func listParams(q url.Values, fe *fieldErrors, validIter func(string) bool, ordered bool, def hookbridge.Ordering) pageQuery {
	p := pageQuery{opt: hookbridge.ListOptions{Limit: hookbridge.DefaultListLimit, Order: def}}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > hookbridge.MaxListLimit {
			fe.query("limit", fmt.Sprintf("must be an integer from 1 to %d", hookbridge.MaxListLimit))
		} else {
			p.opt.Limit = n
		}
	}
	if ordered {
		switch v := q.Get("order"); v {
		case "":
		case "ascending":
			p.opt.Order = hookbridge.OrderAscending
		case "descending":
			p.opt.Order = hookbridge.OrderDescending
		default:
			fe.query("order", `must be "ascending" or "descending"`)
		}
	}
	if it := q.Get("iterator"); it != "" {
		if rest, ok := strings.CutPrefix(it, "-"); ok && validIter(rest) {
			p.prev = true
			it = rest
		}
		if !validIter(it) {
			fe.query("iterator", "is not an iterator returned by this list")
		} else {
			p.opt.Iterator = it
		}
	}
	if p.prev {
		if p.opt.Order == hookbridge.OrderAscending {
			p.opt.Order = hookbridge.OrderDescending
		} else {
			p.opt.Order = hookbridge.OrderAscending
		}
	}
	return p
}

// idIterator returns an iterator check for lists keyed by ids with prefix.
func idIterator(prefix string) func(string) bool {
	return func(s string) bool { return hookbridge.HasPrefix(s, prefix) }
}

// writePage builds the response for one page: items converted by conv, the
// iterator after the last one (key of it) and, as Svix does, a
// prevIterator before the first one.
func writePage[T, O any](p hookbridge.Page[T], q pageQuery, conv func(*T) O, key func(*T) string, withPrev bool) listOut[O] {
	data := p.Data
	if q.prev {
		slices.Reverse(data)
	}
	out := listOut[O]{Data: make([]O, len(data)), Done: p.Done}
	for i := range data {
		out.Data[i] = conv(&data[i])
	}
	if n := len(data); n > 0 {
		last := key(&data[n-1])
		out.Iterator = &last
		if withPrev {
			first := "-" + key(&data[0])
			out.PrevIterator = &first
		}
	}
	return out
}

// boolParam reads a boolean query parameter, def when absent.
func boolParam(q url.Values, name string, def bool, fe *fieldErrors) bool {
	v := q.Get(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		fe.query(name, "must be true or false")
		return def
	}
	return b
}

// timeParam reads an RFC 3339 query parameter, zero when absent.
func timeParam(q url.Values, name string, fe *fieldErrors) time.Time {
	v := q.Get(name)
	if v == "" {
		return time.Time{}
	}
	t, err := parseTime(v)
	if err != nil && strings.Contains(v, " ") {
		// An unencoded "+01:00" offset arrives as " 01:00".
		t, err = parseTime(strings.ReplaceAll(v, " ", "+"))
	}
	if err != nil {
		fe.query(name, err.Error())
	}
	return t
}

// MaxFilterValues is the most values a list filter takes (event_types,
// the only query parameter that carries a list): more is 422 on the
// parameter. A filter is a set the store matches every row against, so its
// size is bounded like a page's.
const MaxFilterValues = 100

// maxQueryParams is the most parameters a request's query may have, counted
// as Go counts them (one more than its "&"s). Go's parser reads none at
// all past 10 000, which would turn a filter into no filter and list
// everything; well below that, checkQuery answers 422.
const maxQueryParams = 500

// checkQuery refuses a query of more than maxQueryParams parameters with a
// 422 on the one given most often (name[…] counts as name): a filter past
// its MaxFilterValues, typically. It is linear in the query's length.
func checkQuery(raw string) error {
	total := strings.Count(raw, "&") + 1
	if total <= maxQueryParams {
		return nil
	}
	counts := make(map[string]int)
	most, n := "", 0
	for pair := range strings.SplitSeq(raw, "&") {
		key, _, _ := strings.Cut(pair, "=")
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		if i := strings.IndexByte(key, '['); i > 0 {
			key = key[:i]
		}
		if key == "" {
			continue
		}
		if counts[key]++; counts[key] > n {
			most, n = key, counts[key]
		}
	}
	var fe fieldErrors
	switch {
	case n > MaxFilterValues:
		fe.query(most, fmt.Sprintf("must have at most %d values", MaxFilterValues))
	case most != "":
		fe.query(most, fmt.Sprintf("one of %d query parameters, more than the %d a request may have", total, maxQueryParams))
	default:
		fe.add(fmt.Sprintf("%d query parameters, more than the %d a request may have", total, maxQueryParams), "query")
	}
	return fe.err()
}

// eventTypesParam reads the event_types filter the way Svix does: repeated
// (event_types=a&event_types=b, also event_types[]=a or event_types[0]=a)
// and/or comma separated (event_types=a,b).
func eventTypesParam(q url.Values, fe *fieldErrors) []string {
	return filterParam(q, "event_types", maxNameLen, fe)
}

// filterParam reads the list filter name: every value of name, name[] and
// name[i], each split at commas, empty ones skipped. More than
// MaxFilterValues values (repeats included) is one 422 on name, found
// without reading further; otherwise each value is checked (at most maxLen
// characters, printable) and the set is returned sorted, without repeats.
// The work is linear in the query's size.
func filterParam(q url.Values, name string, maxLen int, fe *fieldErrors) []string {
	var given []string
	for key, vals := range q {
		if key != name && !(strings.HasPrefix(key, name+"[") && strings.HasSuffix(key, "]")) {
			continue
		}
		for _, v := range vals {
			for value := range strings.SplitSeq(v, ",") {
				if value == "" {
					continue
				}
				if len(given) == MaxFilterValues {
					fe.query(name, fmt.Sprintf("must have at most %d values", MaxFilterValues))
					return nil
				}
				given = append(given, value)
			}
		}
	}
	seen := make(map[string]bool, len(given))
	out := given[:0]
	for _, value := range given {
		if msg := checkLimitedString(value, maxLen); msg != "" {
			fe.query(name, fmt.Sprintf("%q: %s", value, msg))
			continue
		}
		if !seen[value] {
			seen[value] = true
			out = append(out, value)
		}
	}
	slices.Sort(out) // map iteration above is unordered; keep filters deterministic
	return out
}

// channelParam reads the channel filter.
func channelParam(q url.Values, fe *fieldErrors) string {
	v := q.Get("channel")
	if v == "" {
		return ""
	}
	if msg := checkLimitedString(v, maxChannelLen); msg != "" {
		fe.query("channel", msg)
		return ""
	}
	return v
}

// statusParam reads a message status filter (0 success, 1 pending, 2 fail,
// 3 sending).
func statusParam(q url.Values, fe *fieldErrors) *hookbridge.MessageStatus {
	v := q.Get("status")
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 3 {
		fe.query("status", "must be 0 (success), 1 (pending), 2 (fail) or 3 (sending)")
		return nil
	}
	st := hookbridge.MessageStatus(n)
	return &st
}

// statusCodeClassParam reads the status_code_class filter.
func statusCodeClassParam(q url.Values, fe *fieldErrors) *int {
	v := q.Get("status_code_class")
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 500 || n%100 != 0 {
		fe.query("status_code_class", "must be 0 (no response), 100, 200, 300, 400 or 500")
		return nil
	}
	return &n
}
