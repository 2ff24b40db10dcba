package hookbridge

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"sync"
	"time"
)

// ID prefixes. Every entity id is prefix + "_" + a 26-character sortable
// identifier, so ids are self-describing in logs and sort by creation time.
const (
	PrefixApplication = "app"
	PrefixEndpoint    = "ep"
	PrefixMessage     = "msg"
	PrefixDelivery    = "dlv"
	PrefixAttempt     = "atmpt"
	PrefixTask        = "qtask" // a background Task, as Svix names them
	PrefixSource      = "src"
	PrefixInbound     = "inb"  // an InboundEvent
	PrefixRollout     = "rlt"  // a RolloutChange
	PrefixEvent       = "opev" // an OperationalEvent
)

// crockford is Crockford's base32 alphabet: no I, L, O, U, and it sorts in the
// same order as the values it encodes, so ids sort lexicographically by time.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// idGen makes ULID-shaped identifiers: 48 bits of Unix milliseconds then 80
// bits that are random for the first id of a millisecond and incremented for
// the following ones. Ids made by one process are therefore strictly
// increasing; ids made by different processes in the same millisecond are
// unordered among themselves, which is all pagination needs.
type idGen struct {
	mu     sync.Mutex
	lastMS uint64
	hi     uint16 // high 16 of the 80 entropy bits
	lo     uint64 // low 64
}

var ids idGen

// NewID returns a new sortable id with the given prefix, e.g. NewID("msg").
func NewID(prefix string) string {
	return ids.next(prefix, time.Now())
}

// NewIDAt is NewID for a given time; ids made with it sort by t.
func NewIDAt(prefix string, t time.Time) string {
	return ids.next(prefix, t)
}

func (g *idGen) next(prefix string, t time.Time) string {
	ms := uint64(t.UnixMilli())
	g.mu.Lock()
	if ms <= g.lastMS {
		// Same (or earlier: clock step back) millisecond: keep the last
		// timestamp and count up, so ids stay strictly increasing.
		ms = g.lastMS
		g.lo++
		if g.lo == 0 {
			g.hi++
		}
	} else {
		var b [10]byte
		if _, err := rand.Read(b[:]); err != nil {
			panic("hookbridge: crypto/rand failed: " + err.Error())
		}
		g.hi = binary.BigEndian.Uint16(b[:2]) >> 1 // leave headroom for increments
		g.lo = binary.BigEndian.Uint64(b[2:])
		g.lastMS = ms
	}
	hi, lo := g.hi, g.lo
	g.mu.Unlock()

	// 128 bits: ms(48) | hi(16) | lo(64), written as 26 base32 digits (130 bits,
	// the top two always zero).
	var buf [26]byte
	v0 := ms<<16 | uint64(hi) // upper 64 bits
	v1 := lo                  // lower 64 bits
	for i := 25; i >= 0; i-- {
		buf[i] = crockford[v1&31]
		v1 = v1>>5 | (v0&31)<<59
		v0 >>= 5
	}
	var sb strings.Builder
	sb.Grow(len(prefix) + 27)
	sb.WriteString(prefix)
	sb.WriteByte('_')
	sb.Write(buf[:])
	return sb.String()
}

// FirstIDAt returns the smallest id with the given prefix that NewIDAt can
// make for a time at or after t's millisecond: every id made later than t
// sorts after it. Stores use it as a lower bound on ids that may still
// appear.
func FirstIDAt(prefix string, t time.Time) string {
	var buf [26]byte
	v0, v1 := uint64(max(t.UnixMilli(), 0))<<16, uint64(0) // ms, then zero entropy bits
	for i := 25; i >= 0; i-- {
		buf[i] = crockford[v1&31]
		v1 = v1>>5 | (v0&31)<<59
		v0 >>= 5
	}
	return prefix + "_" + string(buf[:])
}

// HasPrefix reports whether id is shaped like an id with the given prefix. It
// lets lookups that accept "id or uid" decide which column to search.
func HasPrefix(id, prefix string) bool {
	return len(id) == len(prefix)+27 && strings.HasPrefix(id, prefix+"_")
}
