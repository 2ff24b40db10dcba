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
