package accounts

import (
	"sort"
	"time"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

// Source is what the scorer does for company models with each event it
// scores: it keeps each contact's Tracker and says which changes to send.
// The live scorer and Sim share it.
type Source struct {
	Set   *rules.Set
	from  []int
	props []string
}

// NewSource prepares a set's company models; nil when it has none.
func NewSource(set *rules.Set) *Source {
	if len(set.Companies) == 0 {
		return nil
	}
	return &Source{Set: set, from: FromIndexes(set), props: Properties(set)}
}

// Step observes a scored (not duplicate) event of a contact whose scoring
// state is c, and returns the changes to send: none when neither its
// company, a role nor a rolled-up score moved, or it belongs to no
// company.
func (s *Source) Step(t *Tracker, c *scoring.Contact, ev *events.Event, o *scoring.Outcome) []Change {
	if o.Duplicate || o.Future {
		return nil
	}
	left := t.Company.Value
	moved := t.Observe(s.props, ev)
	scores, scored := FromScores(s.Set, s.from, o)
	if !moved && !scored {
		return nil
	}
	changes := Changes(t.Member(ev.ContactID, c.Count, scores), left, ev)
	for i := range changes {
		t.sent(changes[i].To)
	}
	return changes
}

// Sim runs events, in the order given, through contact scoring, member
// tracking and company aggregation in one process: what the live service
// does, with every change delivered at once. The backtest uses it.
type Sim struct {
	src      *Source
	scorer   *scoring.Scorer
	contacts map[string]*simContact
	// erased are the contacts a privacy deletion forgot: their later
	// events and changes are dropped, as the live scorer's markers do.
	erased map[string]bool
	Aggs   map[string]*Aggregate
	// Received is every change, in the order delivered.
	Received  []Change
	Crossings []Crossing
}

type simContact struct {
	state   scoring.Contact
	tracker Tracker
}

// NewSim is a Sim over an engine whose rule set has company models.
func NewSim(e *scoring.Engine) *Sim {
	return &Sim{src: NewSource(e.Rules), scorer: scoring.NewScorer(e), contacts: map[string]*simContact{}, Aggs: map[string]*Aggregate{}}
}

// AsOf ignores events after t, as the backtest's --as-of does.
func (s *Sim) AsOf(t time.Time) { s.scorer.AsOf = t.UnixNano() }

// Add scores one event and delivers the changes it makes.
func (s *Sim) Add(ev *events.Event) {
	for _, ch := range s.Step(ev) {
		s.Deliver(ch)
	}
}

// Step scores one event for its contact and returns the changes it makes,
// without delivering them. A contact's changes depend only on its own
// events, so Sims of their own may Step disjoint contacts at once (each
// contact's events in input order); one Sim then Delivers every change in
// the input order of the events that made them, as Add would have.
func (s *Sim) Step(ev *events.Event) []Change {
	if s.erased[ev.ContactID] {
		return nil
	}
	c := s.contacts[ev.ContactID]
	if c == nil {
		c = &simContact{}
		s.contacts[ev.ContactID] = c
	}
	o := s.scorer.Apply(&c.state, ev)
	return s.src.Step(&c.tracker, &c.state, ev, o)
}

// Deliver applies one change to its company.
func (s *Sim) Deliver(ch Change) {
	if s.erased[ch.ContactID] {
		return
	}
	s.Received = append(s.Received, ch)
	a := s.Aggs[ch.To]
	if a == nil {
		a = NewAggregate(ch.To)
		s.Aggs[ch.To] = a
	}
	xs, _ := a.Apply(s.src.Set.Companies, &ch)
	s.Crossings = append(s.Crossings, xs...)
}

// Forget deletes a contact (kind: its deletion's event type) at t: every
// company holding a view of it drops it, in company id order, whatever its
// tracker lists, as the live aggregator does with a deletion (Received
// gets the deletion as each of those companies receives it). After a
// plain deletion a later event of the contact starts it from nothing;
// after a privacy deletion its later events and changes are dropped.
func (s *Sim) Forget(contactID, kind, eventID string, at time.Time) {
	delete(s.contacts, contactID)
	if kind == PrivacyDeleted {
		if s.erased == nil {
			s.erased = map[string]bool{}
		}
		s.erased[contactID] = true
	}
	var ids []string
	for id, a := range s.Aggs {
		if a.Contacts[contactID] != nil {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		ch := Forget(contactID, kind, eventID, at)
		ch.To = id
		s.Received = append(s.Received, ch)
		xs, _ := s.Aggs[id].Apply(s.src.Set.Companies, &ch)
		s.Crossings = append(s.Crossings, xs...)
	}
}

// Trackers calls fn with each contact's membership tracker, in no order.
func (s *Sim) Trackers(fn func(contactID string, t *Tracker) error) error {
	for id, c := range s.contacts {
		if err := fn(id, &c.tracker); err != nil {
			return err
		}
	}
	return nil
}

// Scores are the final company scores, by company then model, of every
// company that has members.
func (s *Sim) Scores() []Score {
	ids := make([]string, 0, len(s.Aggs))
	for id, a := range s.Aggs {
		if len(a.Members()) > 0 {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var out []Score
	for _, id := range ids {
		members := s.Aggs[id].Members()
		for _, m := range s.src.Set.Companies {
			out = append(out, Evaluate(m, id, members))
		}
	}
	return out
}
