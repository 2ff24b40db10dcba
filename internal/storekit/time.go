package storekit

import "time"

// TruncMS is t as it reads back from either store: millisecond precision,
// UTC. Stores apply it to the times they fill in, so that the caller's
// struct equals what a later Get returns. The zero time stays zero.
func TruncMS(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// Bounds calls bound with each bound of the time range [since, until) that
// is set (a zero bound is no bound) and the comparison a time within it
// passes: ">=" since, "<" until.
func Bounds(since, until time.Time, bound func(op string, t time.Time)) {
	if !since.IsZero() {
		bound(">=", since)
	}
	if !until.IsZero() {
		bound("<", until)
	}
}
