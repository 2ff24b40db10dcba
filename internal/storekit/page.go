package storekit

import "github.com/hookbridge/hookbridge"

// pageLimit resolves a requested page size: zero or less means the default,
// more than the maximum means the maximum.
func pageLimit(n int) int {
	if n <= 0 {
		return hookbridge.DefaultListLimit
	}
	return min(n, hookbridge.MaxListLimit)
}

// page trims rows fetched with limit+1 to limit and says whether the list is
// done. An empty page has empty, not nil, Data.
func page[T any](rows []T, limit int) hookbridge.Page[T] {
	if len(rows) > limit {
		return hookbridge.Page[T]{Data: rows[:limit], Done: false}
	}
	if rows == nil {
		rows = []T{}
	}
	return hookbridge.Page[T]{Data: rows, Done: true}
}

// Descending says whether a list whose default order is def is walked
// newest (or Z) first for opt: the keyset pages then go down from the
// iterator instead of up.
func Descending(opt hookbridge.ListOptions, def hookbridge.Ordering) bool {
	return opt.Order == hookbridge.OrderDescending ||
		(opt.Order == hookbridge.OrderDefault && def == hookbridge.OrderDescending)
}
