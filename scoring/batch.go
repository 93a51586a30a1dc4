package scoring

import (
	"reflect"
	"unsafe"

	"github.com/scorebridge/scorebridge/events"
)

// Item is an event and the contact state it scores into.
type Item struct {
	Contact *Contact
	Event   *events.Event
}

// How far ahead ApplyBatch fetches: a contact's own struct this many items
// ahead, its arena (which the struct points to, so it must be in cache
// first) half as far. One Apply takes about a microsecond; a fetch from
// memory about a tenth of that, so two items ahead is already in time.
const (
	aheadContact = 4
	aheadState   = 2
	// maxStateLines bounds what one contact prefetches: of a longer arena
	// (a contact with hundreds of events), only its head, where the
	// per-model words, sums and entries are, and its last line.
	maxStateLines = 16
)

const cacheLine = 64

// ApplyBatch applies each item's event to its contact, in order, exactly
// as Apply would, calling fn with each item's index and Outcome (valid
// until fn returns).
//
// With many contacts, a contact's state is rarely in the CPU's cache when
// its event comes, and Apply spends much of its time waiting for memory:
// the Contact, then the arena it points to, then the event's id. While
// ApplyBatch scores one item it asks the CPU to fetch the state of the
// items a few places ahead, so that by their turn it is there. The
// service scores each fetched batch this way; BenchmarkScore measures it.
func (s *Scorer) ApplyBatch(items []Item, fn func(i int, o *Outcome)) {
	for i := 0; i < min(aheadContact, len(items)); i++ {
		prefetchContact(items[i].Contact)
	}
	for i := 0; i < min(aheadState, len(items)); i++ {
		prefetchState(items[i])
	}
	for i := range items {
		if j := i + aheadContact; j < len(items) {
			prefetchContact(items[j].Contact)
		}
		if j := i + aheadState; j < len(items) {
			prefetchState(items[j])
		}
		fn(i, s.Apply(items[i].Contact, items[i].Event))
	}
}

func prefetchContact(c *Contact) { prefetch(uintptr(unsafe.Pointer(c))) }

// prefetchState fetches the lines of the item's contact's arena that Apply
// reads (the Contact itself should already be in cache: reading the
// arena's address from a cold one would wait), and the event's id, which
// Apply hashes.
func prefetchState(it Item) {
	a := it.Contact.arena
	if len(a) > 0 {
		base := uintptr(unsafe.Pointer(unsafe.SliceData(a)))
		size := uintptr(len(a)) * 8
		n := min((size+cacheLine-1)/cacheLine, maxStateLines)
		for l := uintptr(0); l < n; l++ {
			prefetch(base + l*cacheLine)
		}
		if n == maxStateLines {
			prefetch(base + size - 8)
		}
	}
	if id := it.Event.ID; len(id) > 0 {
		prefetch(uintptr(unsafe.Pointer(unsafe.StringData(id))))
	}
}

// Prefetch asks the CPU for a contact's state, as ApplyBatch does for the
// items ahead, for a caller that reads many contacts' scores in turn (the
// scorer's lead-scores messages before and after a batch): call it a few
// contacts ahead with state false, then, once the struct has come, a
// couple ahead with state true for the head of its arena. It never waits
// and never faults; a nil contact is ignored.
func Prefetch(c *Contact, state bool) {
	if c == nil {
		return
	}
	if !state {
		prefetchContact(c)
		return
	}
	a := c.arena
	if len(a) > 0 {
		base := uintptr(unsafe.Pointer(unsafe.SliceData(a)))
		n := min((uintptr(len(a))*8+cacheLine-1)/cacheLine, maxStateLines)
		for l := uintptr(0); l < n; l++ {
			prefetch(base + l*cacheLine)
		}
	}
}

// PrefetchEvent asks the CPU for an event, for a caller that walks events
// scattered in memory (a held history in input order): call it a few
// events ahead with data false for the event itself, then, once that has
// come, a couple ahead with data true for its id and its property and
// contact maps' headers, which Apply reads first. It never waits and never
// faults; a nil event is ignored.
func PrefetchEvent(ev *events.Event, data bool) {
	if ev == nil {
		return
	}
	if !data {
		p := uintptr(unsafe.Pointer(ev))
		prefetch(p)
		prefetch(p + unsafe.Sizeof(*ev) - 1) // it may straddle two lines
		return
	}
	if id := ev.ID; len(id) > 0 {
		prefetch(uintptr(unsafe.Pointer(unsafe.StringData(id))))
	}
	for _, m := range [2]map[string]any{ev.Properties, ev.Contact} {
		if m != nil {
			prefetch(uintptr(reflect.ValueOf(m).UnsafePointer()))
		}
	}
}
