package rules

import (
	"sync"
	"time"
)

// Env is the typed environment every expression is compiled against:
// `event.type`, `event.properties.X`, `contact.X`. Typing it means that
// `event.type == 5` is a compile error, not a silent non-match.
type Env struct {
	Event   EventEnv       `expr:"event"`
	Contact map[string]any `expr:"contact"`

	looked lookups // native expressions' property lookups for this event
}

// lookups remembers the property lookups native expressions made for the
// bound event, so that groups reading the same property (every fit group
// reads contact.email, say) look it up once: slot i holds val[i] when
// at[i] is the event's stamp. Slots come from propSlot.
type lookups struct {
	stamp uint32
	at    []uint32
	val   []any
}

// next forgets every lookup: a new event is bound.
func (l *lookups) next() {
	l.stamp++
	if l.stamp == 0 { // wrapped: clear the stamps
		clear(l.at)
		l.stamp = 1
	}
}

// get is m[k], looked up once per event for slot. An Env no Evaluator
// bound (stamp 0) remembers nothing.
func (l *lookups) get(slot int, m map[string]any, k string) any {
	if slot < len(l.at) && l.at[slot] == l.stamp {
		return l.val[slot]
	}
	v := m[k]
	if l.stamp == 0 {
		return v
	}
	if slot >= len(l.at) {
		n := max(slot+1, 2*len(l.at), 16)
		l.at = append(l.at, make([]uint32, n-len(l.at))...)
		l.val = append(l.val, make([]any, n-len(l.val))...)
	}
	l.at[slot], l.val[slot] = l.stamp, v
	return v
}

// Property slots are numbered across the process, not per rule set, so an
// Evaluator serves every version of the rules a reload brings; there are
// as many as distinct properties the rules have ever named.
var (
	slotsMu sync.Mutex
	slots   = map[string]int{}
)

func propSlot(object, key string) int {
	slotsMu.Lock()
	defer slotsMu.Unlock()
	k := object + "\x00" + key
	s, ok := slots[k]
	if !ok {
		s = len(slots)
		slots[k] = s
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
