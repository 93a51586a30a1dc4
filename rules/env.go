package rules

import (
	"sync"
	"time"
	"unsafe"

	"github.com/scorebridge/scorebridge/internal/dialect"
)

// Env is the typed environment every expression is compiled against:
// `event.type`, `event.properties.X`, `contact.X`. Typing it means that
// `event.type == 5` is a compile error, not a silent non-match.
type Env struct {
	Event   EventEnv       `expr:"event"`
	Contact map[string]any `expr:"contact"`

	memo memo // what native expressions and conditions gave for this event
	// The string bytes the running evaluation has built (the dialect's
	// bound on growth expr does not count).
	dialect.Meter `expr:"-"`
}

// memo remembers, for the bound event only, the properties native
// expressions looked up and the conditions groups asked: groups reading
// the same property (every fit group reads contact.email, say) or sharing
// a condition (`contact.lifecycle_stage == "lead"` after the type test)
// pay for it once per event. An Env no Evaluator bound (stamp 0)
// remembers nothing.
//
// Conditions that read nothing but the contact (Group.contactOnly:
// `contact.email endsWith "@competitor.com"`) are remembered for as long
// as the events bound share one contact map: a history that keeps each
// contact's map once for all its events (backtest.History) asks them once
// per contact, not per event. A map bound to events must not change
// while it is bound, as a held history's are not.
type memo struct {
	stamp uint32 // the bound event's
	props stamped[any]
	tests stamped[bool]

	contactStamp uint32         // the bound contact map's
	contact      map[string]any // that map: held, so no other takes its address
	contactTests stamped[bool]
}

// next forgets everything of the event bound before; what depends on the
// contact alone is kept if contact is the map bound before.
func (m *memo) next(contact map[string]any) {
	m.stamp++
	if m.stamp == 0 { // wrapped: clear the stamps
		m.props.forget()
		m.tests.forget()
		m.stamp = 1
	}
	if m.contactStamp != 0 && sameMap(contact, m.contact) {
		return
	}
	m.contact = contact
	m.contactStamp++
	if m.contactStamp == 0 {
		m.contactTests.forget()
		m.contactStamp = 1
	}
}

// sameMap reports whether a and b are the same map (not equal ones).
func sameMap(a, b map[string]any) bool {
	return *(*unsafe.Pointer)(unsafe.Pointer(&a)) == *(*unsafe.Pointer)(unsafe.Pointer(&b))
}

// prop is m[k], looked up once per event for slot.
func (e *Env) prop(slot int, m map[string]any, k string) any {
	if v, ok := e.memo.props.get(slot, e.memo.stamp); ok {
		return v
	}
	v := m[k]
	e.memo.props.put(slot, e.memo.stamp, v)
	return v
}

// stamped holds values by slot: slot i holds val[i] while at[i] is the
// current stamp.
type stamped[T any] struct {
	at  []uint32
	val []T
}

func (s *stamped[T]) get(slot int, stamp uint32) (T, bool) {
	if stamp != 0 && slot < len(s.at) && s.at[slot] == stamp {
		return s.val[slot], true
	}
	var zero T
	return zero, false
}

func (s *stamped[T]) put(slot int, stamp uint32, v T) {
	if stamp == 0 {
		return
	}
	if slot >= len(s.at) {
		n := max(slot+1, 2*len(s.at), 16)
		s.at = append(s.at, make([]uint32, n-len(s.at))...)
		s.val = append(s.val, make([]T, n-len(s.val))...)
	}
	s.at[slot], s.val[slot] = stamp, v
}

func (s *stamped[T]) forget() { clear(s.at) }

// registry numbers names (properties, conditions) across the process, not
// per rule set, so one Evaluator serves every version of the rules a
// reload brings; it holds as many as the rules have ever named.
type registry struct {
	mu    sync.Mutex
	slots map[string]int
}

var (
	propSlots = registry{slots: map[string]int{}} // "contact\x00K", "properties\x00K"
	testSlots = registry{slots: map[string]int{}} // a condition's source
)

func (r *registry) slot(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.slots[name]
	if !ok {
		s = len(r.slots)
		r.slots[name] = s
	}
	return s
}

// EventEnv is the event as expressions see it.
type EventEnv struct {
	ID         string         `expr:"id"`
	Type       string         `expr:"type"`
	ContactID  string         `expr:"contact_id"`
	CompanyID  string         `expr:"company_id"`
	OccurredAt time.Time      `expr:"occurred_at"`
	Properties map[string]any `expr:"properties"`
}
