package events

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
)

// The strings and numbers of an event are mostly the same few words again
// and again (keys, channels, stages, owners, types), and allocating them
// anew, twice for a value stored in an `any`, was most of the fast path's
// cost. internTable keeps the recent ones, ready boxed. It is lossy (a
// direct-mapped table: a newcomer evicts whatever held its slot), bounded
// (internSlots entries of at most internMaxLen bytes) and safe for
// concurrent use without locks. Sharing its strings and boxed values
// between events is safe: they are immutable; maps are never shared.
const (
	internSlots  = 4096
	internMaxLen = 64
)

type internEntry struct {
	number bool   // val is the float64 that raw spells, not the string raw
	raw    string // the bytes as they stand in the JSON
	val    any
}

var (
	internSeed  = rand.Uint64() | 1
	internTable [internSlots]atomic.Pointer[internEntry]
	// internSeen admits a word on its second sighting only, so that the
	// words seen once (event ids, most emails in a large population) do
	// not cost an entry each or evict the ones that repeat.
	internSeen [internSlots]atomic.Uint32
)

// internLookup is the entry for raw, or the slot and hash to admit it with.
func internLookup(raw []byte, number bool) (*internEntry, uint64) {
	h := internHash(raw)
	if number {
		h = ^h
	}
	if e := internTable[h%internSlots].Load(); e != nil && e.number == number && e.raw == string(raw) {
		return e, h
	}
	return nil, h
}

// internHash mixes the length and the first and last eight bytes: enough
// to tell apart the words events repeat, and a few times cheaper than
// hashing every byte. Words that collide only evict each other.
func internHash(raw []byte) uint64 {
	var a, b uint64
	switch n := len(raw); {
	case n >= 8:
		a = binary.LittleEndian.Uint64(raw)
		b = binary.LittleEndian.Uint64(raw[n-8:])
	case n >= 4:
		a = uint64(binary.LittleEndian.Uint32(raw))
		b = uint64(binary.LittleEndian.Uint32(raw[n-4:]))
	default:
		for _, c := range raw {
			a = a<<8 | uint64(c)
		}
	}
	hi, lo := bits.Mul64(a^internSeed, b^uint64(len(raw))^0x9e3779b97f4a7c15)
	return hi ^ lo
}

// internAdmit says whether a word missed with hash h has been seen before.
func internAdmit(raw []byte, h uint64) bool {
	if len(raw) > internMaxLen {
		return false
	}
	return internSeen[h%internSlots].Swap(uint32(h>>32)) == uint32(h>>32)
}

// internString is string(raw), from the table if it is there.
func internString(raw []byte) string {
	e, h := internLookup(raw, false)
	if e != nil {
		return e.raw
	}
	s := string(raw)
	if internAdmit(raw, h) {
		internTable[h%internSlots].Store(&internEntry{raw: s, val: s})
	}
	return s
}

// internStringValue is any(string(raw)), from the table if it is there.
func internStringValue(raw []byte) any {
	e, h := internLookup(raw, false)
	if e != nil {
		return e.val
	}
	var v any = string(raw)
	if internAdmit(raw, h) {
		internTable[h%internSlots].Store(&internEntry{raw: v.(string), val: v})
	}
	return v
}

// internNumber is any(f) where f is what raw, a JSON number, parses to
// with strconv.ParseFloat, as encoding/json parses it; false where that
// fails (out of float64's range).
func internNumber(raw []byte) (any, bool) {
	e, h := internLookup(raw, true)
	if e != nil {
		return e.val, true
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return nil, false
	}
	var v any = f
	if internAdmit(raw, h) {
		internTable[h%internSlots].Store(&internEntry{number: true, raw: string(raw), val: v})
	}
	return v, true
}
