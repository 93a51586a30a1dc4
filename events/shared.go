package events

import (
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// A projected object is mostly the same few bytes again and again: the
// campaign and channel of an event, a contact's email and lifecycle
// stage on each of its events. Rather than a new map for each, a
// projected event gets the map of an earlier object whose kept members
// had the same keys and the same bytes in the same order, which decode to
// the same map. sharedObjects keeps those maps as internTable keeps
// words: lossy, bounded, admitted on their second sighting, safe for
// concurrent use without locks. This is why a projected event's maps are
// read-only: they may be another event's too.
const (
	sharedSlots   = 1 << 14
	maxSharedKeys = 8   // kept members of a shared object, at most
	maxSigBytes   = 256 // and their signature's bytes
)

type sharedEntry struct {
	hash uint64
	sig  string
	m    map[string]any
	used atomic.Bool
}

var (
	sharedTable [sharedSlots]atomic.Pointer[sharedEntry]
	sharedSeen  [sharedSlots]atomic.Uint32
)

// sharedObject is the map of the kept members spans, whose signature is
// sig: the table's if it holds it, else a new one.
func (s *scanner) sharedObject(spans []keptSpan, sig []byte) map[string]any {
	h := xxhash.Sum64(sig)
	slot := h % sharedSlots
	if e := sharedTable[slot].Load(); e != nil && e.hash == h && e.sig == string(sig) {
		if !e.used.Load() {
			e.used.Store(true)
		}
		return e.m
	}
	m := s.build(spans)
	if m == nil {
		return nil
	}
	if sharedSeen[slot].Swap(uint32(h>>32)) != uint32(h>>32) {
		return m
	}
	if e := sharedTable[slot].Load(); e != nil && e.used.Load() {
		e.used.Store(false)
		return m
	}
	sharedTable[slot].Store(&sharedEntry{hash: h, sig: string(sig), m: m})
	return m
}
