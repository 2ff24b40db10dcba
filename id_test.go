package hookbridge

import (
	"testing"
	"time"
)

func TestNewIDSortsByCreation(t *testing.T) {
	t.Parallel()
	prev := NewID(PrefixMessage)
	for range 10000 {
		id := NewID(PrefixMessage)
		if id <= prev {
			t.Fatalf("id %q not after %q", id, prev)
		}
		if !HasPrefix(id, PrefixMessage) {
			t.Fatalf("id %q lacks prefix", id)
		}
		prev = id
	}
}

func TestNewIDAtOrdersByTime(t *testing.T) {
	t.Parallel()
	var g idGen
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := g.next("x", base)
	b := g.next("x", base.Add(time.Millisecond))
	c := g.next("x", base.Add(time.Hour))
	if !(a < b && b < c) {
		t.Fatalf("not ordered: %s %s %s", a, b, c)
	}
	// A clock that steps back must not produce a smaller id.
	d := g.next("x", base)
	if d <= c {
		t.Fatalf("id after clock step back %s <= %s", d, c)
	}
}

func TestFirstIDAt(t *testing.T) {
	t.Parallel()
	at := time.Now().Add(time.Hour)
	first := FirstIDAt(PrefixMessage, at)
	if !HasPrefix(first, PrefixMessage) {
		t.Fatalf("FirstIDAt = %q, not an id", first)
	}
	// Ids made at or after t sort after it (the generator never goes back
	// in time, so this holds whatever else it made before).
	for _, d := range []time.Duration{0, time.Millisecond, time.Second} {
		if id := NewIDAt(PrefixMessage, at.Add(d)); id < first {
			t.Fatalf("id %s made %v after %v sorts before FirstIDAt %s", id, d, at, first)
		}
	}
	// One millisecond earlier is a smaller bound, and one a millisecond
	// later is a larger one: the bound is the millisecond itself.
	if prev, next := FirstIDAt(PrefixMessage, at.Add(-time.Millisecond)), FirstIDAt(PrefixMessage, at.Add(time.Millisecond)); !(prev < first && first < next) {
		t.Fatalf("FirstIDAt not increasing: %s, %s, %s", prev, first, next)
	}
	if got := FirstIDAt(PrefixMessage, time.UnixMilli(0)); got != "msg_00000000000000000000000000" {
		t.Fatalf("FirstIDAt(epoch) = %s", got)
	}
}
