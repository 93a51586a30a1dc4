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
// cost. internTable keeps the ones in use, ready boxed. It is lossy (a
// direct-mapped table), bounded (internSlots entries of at most
// internMaxLen bytes) and safe for concurrent use without locks. Sharing
// its strings and boxed values between events is safe: they are
// immutable; maps are never shared.
const (
	internSlots  = 4096
	internMaxLen = 64
)

type internEntry struct {
	hash uint64 // internHash's, negated for a number
	raw  string // the bytes as they stand in the JSON
	val  any    // raw as a string, or the float64 a number spells
	used atomic.Bool
}

var (
	internSeed  = rand.Uint64() | 1
	internTable [internSlots]atomic.Pointer[internEntry]
	// internSeen admits a word on its second sighting only, so that the
	// words seen once (event ids, most emails in a large population) do
	// not cost an entry each.
	internSeen [internSlots]atomic.Uint32
)

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

// internAdmit says whether a word missed with hash h may have its slot:
// when it has been seen before and the word there has not been used since
// it was last spared (the clock algorithm), so that the words of every
// event keep their slots against the many that come back now and then
// (the emails and owners of thousands of contacts).
func internAdmit(raw []byte, h uint64) bool {
	if len(raw) > internMaxLen || internSeen[h%internSlots].Swap(uint32(h>>32)) != uint32(h>>32) {
		return false
	}
	if e := internTable[h%internSlots].Load(); e != nil && e.used.Load() {
		e.used.Store(false)
		return false
	}
	return true
}

// internFind is the entry for raw, of hash h, if it is in the table.
func internFind(raw []byte, h uint64) *internEntry {
	e := internTable[h%internSlots].Load()
	if e == nil || e.hash != h || e.raw != string(raw) {
		return nil
	}
	if !e.used.Load() {
		e.used.Store(true)
	}
	return e
}

// internString is string(raw), from the table if it is there.
func internString(raw []byte) string {
	h := internHash(raw)
	if e := internFind(raw, h); e != nil {
		return e.raw
	}
	return internStringMiss(raw, h)
}

func internStringMiss(raw []byte, h uint64) string {
	s := string(raw)
	if internAdmit(raw, h) {
		internTable[h%internSlots].Store(&internEntry{hash: h, raw: s, val: s})
	}
	return s
}

// internStringValue is any(string(raw)), from the table if it is there.
func internStringValue(raw []byte) any {
	h := internHash(raw)
	if e := internFind(raw, h); e != nil {
		return e.val
	}
	return internStringValueMiss(raw, h)
}

func internStringValueMiss(raw []byte, h uint64) any {
	var v any = string(raw)
	if internAdmit(raw, h) {
		internTable[h%internSlots].Store(&internEntry{hash: h, raw: v.(string), val: v})
	}
	return v
}

// internNumber is any(f) where f is what raw, a JSON number, parses to
// with strconv.ParseFloat, as encoding/json parses it; false where that
// fails (out of float64's range). Its hash is the string's negated, so
// that a number and a string with the same bytes have entries apart.
func internNumber(raw []byte) (any, bool) {
	h := ^internHash(raw)
	if e := internFind(raw, h); e != nil {
		return e.val, true
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return nil, false
	}
	var v any = f
	if internAdmit(raw, h) {
		internTable[h%internSlots].Store(&internEntry{hash: h, raw: string(raw), val: v})
	}
	return v, true
}
