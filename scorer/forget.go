package scorer

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/stream"
)

// A contact_deleted or privacy_deleted event makes the scorer forget the
// contact: its state leaves memory and the changelog (tombstone), its
// lead-scores message is replaced by a tombstone, and for a privacy
// deletion its rows in ClickHouse are erased (Config.Erase), after the
// history written before it is stored (a mutation does not reach rows
// inserted after it).
//
// What stays is a marker, on the changelog next to the states: the
// contact's id, the kind of deletion and its time, nothing else. Without
// it a late event of the contact (a replay of the events topic, a source
// that is late, HubSpot retrying a webhook) would start the contact over
// and undo the deletion. With it:
//   - after a privacy deletion, every later event of the contact is
//     dropped, whatever its time: the person asked to be forgotten, and
//     HubSpot never reuses an id;
//   - after a plain deletion (HubSpot can restore a deleted contact for 90
//     days), events that occurred at or before the deletion are dropped,
//     and an event after it starts the contact again from nothing.
//
// Dropped events count as scorer_events_total{outcome="suppressed"}, each
// deletion as {outcome="forgotten"}. Keeping the id is the minimum needed
// to honour the deletion (a suppression list); the marker is a compacted
// record that never expires.

// Event types that make the scorer forget a contact.
const (
	TypeContactDeleted = "contact_deleted"
	TypePrivacyDeleted = "privacy_deleted"
)

// forgetKind orders the deletions: a privacy deletion supersedes a plain one.
type forgetKind uint8

const (
	deleted forgetKind = 1 + iota
	privacy
)

func kindOf(eventType string) forgetKind {
	switch eventType {
	case TypeContactDeleted:
		return deleted
	case TypePrivacyDeleted:
		return privacy
	}
	return 0
}

func (k forgetKind) String() string {
	if k == privacy {
		return TypePrivacyDeleted
	}
	return TypeContactDeleted
}

// marker is what the scorer keeps of a forgotten contact.
type marker struct {
	At   int64 // unix nanoseconds of the deletion
	Kind forgetKind
}

// suppresses reports whether the marker drops an event that occurred at t.
func (m marker) suppresses(t time.Time) bool {
	return m.Kind == privacy || t.UnixNano() <= m.At
}

// markerPrefix starts the changelog key of a marker: a NUL, which no
// contact id the scorer accepts starts with in practice, and "forgotten".
const markerPrefix = "\x00forgotten\x00"

// markerValue is a marker's changelog value.
type markerValue struct {
	Kind        string    `json:"kind"`
	ForgottenAt time.Time `json:"forgotten_at"`
}

// MarkerKey is the changelog key of the contact's marker.
func MarkerKey(contactID string) []byte { return []byte(markerPrefix + contactID) }

// markerOf reads a changelog record; ok is false when it is not a marker.
func markerOf(m stream.Record) (id string, mk marker, ok bool, err error) {
	if !strings.HasPrefix(string(m.Key), markerPrefix) {
		return "", marker{}, false, nil
	}
	id = string(m.Key[len(markerPrefix):])
	var v markerValue
	if err := json.Unmarshal(m.Value, &v); err != nil {
		return id, marker{}, true, fmt.Errorf("forgotten-contact marker of %q: %w", id, err)
	}
	mk = marker{At: v.ForgottenAt.UnixNano(), Kind: kindOf(v.Kind)}
	if mk.Kind == 0 {
		return id, marker{}, true, fmt.Errorf("forgotten-contact marker of %q: kind %q", id, v.Kind)
	}
	return id, mk, true, nil
}

func markerMessage(id string, mk marker) stream.Record {
	v, _ := json.Marshal(markerValue{Kind: mk.Kind.String(), ForgottenAt: time.Unix(0, mk.At).UTC()})
	return stream.Record{Key: MarkerKey(id), Value: v}
}

// IsMarker tells a changelog record that is a forgotten contact's marker
// from a contact's state (tools reading the changelog skip them).
func IsMarker(key []byte) bool { return strings.HasPrefix(string(key), markerPrefix) }

// ForgetEvent is the event `scorer forget` produces: a privacy deletion of
// the contact at t, with an id of its own.
func ForgetEvent(contactID string, t time.Time) events.Event {
	return events.Event{
		ID:   fmt.Sprintf("scorer-forget-%s-%d", contactID, t.UnixNano()),
		Type: TypePrivacyDeleted, ContactID: contactID, OccurredAt: t.UTC(),
	}
}

// forgetting is one deletion a batch applied.
type forgetting struct {
	id     string
	marker marker
}

// restoreRecord takes a changelog record that is a marker into the
// partition; it reports whether it was one.
func (p *Processor) restoreRecord(part *partition, m stream.Record) bool {
	id, mk, ok, err := markerOf(m)
	if !ok {
		return false
	}
	if err != nil {
		p.count("state", 1)
		p.cfg.Log.Warn().Int("partition", part.id).Err(err).Msg("skipped an unreadable marker")
		return true
	}
	if part.forgotten == nil {
		part.forgotten = map[string]marker{}
	}
	part.forgotten[id] = mk
	return true
}

// forget applies the batch's deletions and drops the events they
// suppress, before anything is scored: an event of the batch that comes
// before its contact's deletion is dropped too (its effects would be
// erased at once), so the batch announces no crossing and stores no touch
// of a contact it forgets. It returns the events left to score, in order.
func (p *Processor) forget(part *partition, evs []events.Event, b *batch) []events.Event {
	var last map[string]int // the batch's last deletion of each contact
	for i := range evs {
		if kindOf(evs[i].Type) != 0 {
			if last == nil {
				last = map[string]int{}
			}
			last[evs[i].ContactID] = i
		}
	}
	if last == nil && len(part.forgotten) == 0 {
		return evs
	}
	out := evs[:0]
	for i := range evs {
		ev := &evs[i]
		if k := kindOf(ev.Type); k != 0 {
			p.forgetContact(part, ev, k, b)
			continue
		}
		if j, ok := last[ev.ContactID]; ok && i < j {
			p.suppressed(ev, "before its contact's deletion in the same batch")
			continue
		}
		if mk, ok := part.forgotten[ev.ContactID]; ok && mk.suppresses(ev.OccurredAt) {
			p.suppressed(ev, "its contact was "+mk.Kind.String())
			continue
		}
		out = append(out, *ev)
	}
	return out
}

func (p *Processor) suppressed(ev *events.Event, why string) {
	p.outcome("suppressed")
	p.cfg.Log.Debug().Str("event_id", ev.ID).Str("contact_id", ev.ContactID).Str("why", why).Msg("event of a forgotten contact dropped")
}

// forgetContact drops the contact's state and queues the deletion's
// effects. A deletion the marker already covers (a replay) changes
// nothing.
func (p *Processor) forgetContact(part *partition, ev *events.Event, k forgetKind, b *batch) {
	id, at := ev.ContactID, ev.OccurredAt.UnixNano()
	old, had := part.forgotten[id]
	if had && old.Kind >= k && old.At >= at {
		p.outcome("duplicate")
		return
	}
	mk := marker{At: max(old.At, at), Kind: max(old.Kind, k)}
	if part.forgotten == nil {
		part.forgotten = map[string]marker{}
	}
	part.forgotten[id] = mk
	if st := part.contacts[id]; st != nil {
		delete(part.contacts, id)
		delete(b.dirty, st)
		p.addContacts(-1)
	}
	if p.cfg.Members != nil {
		p.cfg.Members.forget(part.id, id, k.String(), ev.ID, ev.OccurredAt, &b.members)
	}
	b.forgets = append(b.forgets, forgetting{id: id, marker: mk})
	if p.cfg.Scores != nil {
		b.scores = append(b.scores, stream.Record{Key: []byte(id)}) // tombstone
	}
	p.outcome("forgotten")
	p.cfg.Log.Info().Str("contact_id", id).Str("event_id", ev.ID).Str("kind", mk.Kind.String()).
		Time("forgotten_at", time.Unix(0, mk.At).UTC()).Msg("contact forgotten")
}

// eraseForgotten erases the ClickHouse rows of the group's privacy
// deletions. It runs after the history step, so every row of the
// contacts written before the deletion is stored (a mutation does not
// reach rows inserted after it), and before the state step, which writes
// the tombstones and markers (forgetMsgs): a crash in between replays the
// deletion, which is harmless.
func (p *Processor) eraseForgotten(ctx context.Context, group []*pending) error {
	if p.cfg.Erase == nil {
		return nil
	}
	var erase []string
	for _, pd := range group {
		for _, f := range pd.forgets {
			if f.marker.Kind == privacy {
				erase = append(erase, f.id)
			}
		}
	}
	if len(erase) == 0 {
		return nil
	}
	if err := p.cfg.Erase(ctx, erase...); err != nil {
		return fmt.Errorf("erase %d contacts from ClickHouse: %w", len(erase), err)
	}
	return nil
}

// changelogMsgs is what the state step writes for a group: per batch, in
// order, the tombstone and marker of each contact it forgot, then the
// states it changed. A state of the contact saved by an earlier batch
// comes before its tombstone, and a contact started again after its
// deletion (a later event of a plain deletion) after it.
func changelogMsgs(group []*pending) []stream.Record {
	forgot := false
	for _, pd := range group {
		forgot = forgot || len(pd.forgets) > 0
	}
	if !forgot {
		return gather(group, func(pd *pending) []stream.Record { return pd.stateMsgs })
	}
	var out []stream.Record
	for _, pd := range group {
		for _, f := range pd.forgets {
			out = append(out, stream.Record{Key: []byte(f.id)}, markerMessage(f.id, f.marker))
		}
		out = append(out, pd.stateMsgs...)
	}
	return out
}

// erase is the service's Config.Erase: its eraser's, which waits through
// a ClickHouse outage, when it has ClickHouse.
func (s *Service) erase() func(ctx context.Context, ids ...string) error {
	e := s.eraser.Load()
	if e == nil {
		return nil
	}
	return e.EraseContacts
}
