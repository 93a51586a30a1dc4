package scoring

import (
	"sort"
	"time"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
)

// Breakdown explains one model's score for a contact at a time: every
// counted event, the caps applied, and a total that adds up exactly.
type Breakdown struct {
	Model  string
	At     time.Time
	Score  rules.Points // Raw clamped to [min_score, max_score]
	Raw    rules.Points // the sum of the group sums
	Groups []GroupBreakdown
	Errors []EvalError
}

// GroupBreakdown is one group's part of a score.
type GroupBreakdown struct {
	Name    string
	Counted []Contribution
	Raw     rules.Points // the sum of the contributions
	Sum     rules.Points // Raw clamped to [min, max]
	// Dropped lists matches that do not count: outside the window, or
	// later than a non-repeatable group's first match.
	Dropped []Dropped
}

// Contribution is one counted event's part of a group.
type Contribution struct {
	EventID string
	At      time.Time
	Points  rules.Points // as the rule awarded them
	Factor  float64      // decay factor (1 without decay)
	Value   rules.Points // Points x Factor, rounded to a micro-point
}

// Dropped is a match that does not count, and why.
type Dropped struct {
	EventID string
	At      time.Time
	Reason  string
}

// EvalError is a runtime error of a group's expression for one event: the
// event does not match, and the error is counted and reported.
type EvalError struct {
	Model   string
	Group   string
	EventID string
	Err     error
}

func (e EvalError) Error() string {
	return "event " + e.EventID + ": model " + e.Model + ": group " + e.Group + ": " + e.Err.Error()
}

// Dedup keeps the first event of each id, in the order given.
func Dedup(evs []events.Event) []events.Event {
	seen := make(map[string]bool, len(evs))
	out := make([]events.Event, 0, len(evs))
	for _, ev := range evs {
		if !seen[ev.ID] {
			seen[ev.ID] = true
			out = append(out, ev)
		}
	}
	return out
}

// Evaluate computes a model's score for one contact's events at T, as the
// semantics state it, step by step. evs may hold duplicates (the first of
// an id wins) and be in any order. It is the reference the incremental
// Contact is tested against, and what `scorer explain` prints.
func Evaluate(m *rules.Model, evs []events.Event, T time.Time) Breakdown {
	b := Breakdown{Model: m.Name, At: T}
	// 1. E: de-duplicated, occurred_at <= T, in (occurred_at, id) order.
	var E []events.Event
	for _, ev := range Dedup(evs) {
		if !ev.OccurredAt.After(T) {
			E = append(E, ev)
		}
	}
	sort.Slice(E, func(i, j int) bool { return E[i].Before(&E[j]) })
	ev := rules.NewEvaluator()
	tn := T.UnixNano()
	for _, g := range m.Groups {
		gb := GroupBreakdown{Name: g.Name}
		// 2. Matches; a runtime error is no match. E is sorted, so the
		// first match is the earliest by (occurred_at, id).
		var matches []Contribution
		for i := range E {
			if !g.MatchesType(E[i].Type) {
				continue
			}
			ev.Bind(&E[i])
			ok, pts, err := ev.Match(g)
			if err != nil {
				b.Errors = append(b.Errors, EvalError{Model: m.Name, Group: g.Name, EventID: E[i].ID, Err: err})
				continue
			}
			if !ok {
				continue
			}
			if !g.Repeatable && len(matches) == 1 {
				gb.Dropped = append(gb.Dropped, Dropped{E[i].ID, E[i].OccurredAt, "not repeatable: only the first match counts"})
				continue
			}
			matches = append(matches, Contribution{EventID: E[i].ID, At: E[i].OccurredAt, Points: pts})
		}
		for _, c := range matches {
			t := c.At.UnixNano()
			if !inWindow(g, t, tn) {
				gb.Dropped = append(gb.Dropped, Dropped{c.EventID, c.At, "outside the " + rules.FormatDuration(g.Window) + " window"})
				continue
			}
			// 3. Contribution, decayed by age.
			c.Value, c.Factor = contribution(m, c.Points, t, tn)
			if m.Decays() && c.Value == 0 && c.Points != 0 {
				gb.Dropped = append(gb.Dropped, Dropped{c.EventID, c.At, "decayed to nothing"})
				continue
			}
			gb.Counted = append(gb.Counted, c)
			gb.Raw += c.Value
		}
		// 4. Group clamp, then total clamp.
		gb.Sum = g.Clamp(gb.Raw)
		b.Raw += gb.Sum
		b.Groups = append(b.Groups, gb)
	}
	b.Score = m.Clamp(b.Raw)
	return b
}

// Crossing is a threshold reached by a contact's score.
type Crossing struct {
	Model     string
	Threshold rules.Threshold
	At        time.Time
	EventID   string
	Score     rules.Points
}

// EvaluateCrossings walks a contact's events in (occurred_at, id) order
// and, after each, takes the score of the events so far at that event's
// time; a threshold starts armed, fires and disarms when reached, and
// re-arms when the score falls below rearm_below. Quadratic: for tests and
// single contacts.
func EvaluateCrossings(m *rules.Model, evs []events.Event) []Crossing {
	E := Dedup(evs)
	sort.Slice(E, func(i, j int) bool { return E[i].Before(&E[j]) })
	disarmed := make([]bool, len(m.Thresholds))
	var out []Crossing
	for i := range E {
		score := Evaluate(m, E[:i+1], E[i].OccurredAt).Score
		for k, th := range m.Thresholds {
			switch {
			case !disarmed[k] && score >= th.At:
				out = append(out, Crossing{Model: m.Name, Threshold: th, At: E[i].OccurredAt, EventID: E[i].ID, Score: score})
				disarmed[k] = true
			case disarmed[k] && score < th.RearmBelow:
				disarmed[k] = false
			}
		}
	}
	return out
}

// ExpectedCrossingIDs replays a history contact by contact with the
// reference evaluation and names each crossing by the id the scorer must
// announce it under: what a crossings topic is checked against.
func ExpectedCrossingIDs(set *rules.Set, evs []events.Event) map[string]bool {
	byContact := map[string][]events.Event{}
	for _, ev := range evs {
		byContact[ev.ContactID] = append(byContact[ev.ContactID], ev)
	}
	ids := map[string]bool{}
	for id, list := range byContact {
		for _, m := range set.Models {
			for _, x := range EvaluateCrossings(m, list) {
				ids[events.CrossingID(id, m.Name, x.Threshold.Name, x.EventID)] = true
			}
		}
	}
	return ids
}
