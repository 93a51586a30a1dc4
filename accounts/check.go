package accounts

import (
	"fmt"
	"reflect"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
)

// CrossingCheck holds the company crossings announced on a crossings
// topic to the reference: Crossings over the changes each company
// received, in the company topic's order (all of a company's changes are
// on its partition, in the order the aggregator applied them; replayed
// changes are stale there as in the aggregator; a contact's deletion, on
// every partition, reaches each company of its partition). It is exact
// without deletions: the aggregator applies a batch's deletions first and
// drops a privacy-deleted contact's later changes. The ids must be the
// same, and under each id the reference's crossing (company, model,
// threshold, score, causing contact and event, top members); an id
// announced twice must say the same both times.
//
// Feed it the company topic with Change, the crossings topic with
// Crossing, then read Result.
type CrossingCheck struct {
	set       *rules.Set
	received  map[string][]Change
	seen      map[int][]string // per partition, the companies with changes so far
	got       map[string]events.Crossing
	order     []string // crossing ids in the order first announced
	result    CrossingResult
	conflicts []string
}

// CrossingResult is what a CrossingCheck found.
type CrossingResult struct {
	Companies, Malformed, Deletions                       int
	Expected, Missing, Unexpected, Differing, Conflicting int
	// Examples are up to five of the differences, each a sentence.
	Examples []string
}

// OK reports whether the topic holds exactly the reference's crossings.
func (r CrossingResult) OK() bool {
	return r.Malformed+r.Missing+r.Unexpected+r.Differing+r.Conflicting == 0
}

// NewCrossingCheck starts a check of set's company models.
func NewCrossingCheck(set *rules.Set) *CrossingCheck {
	return &CrossingCheck{set: set, received: map[string][]Change{}, seen: map[int][]string{}, got: map[string]events.Crossing{}}
}

// Change adds a record of the company topic, read from partition.
func (c *CrossingCheck) Change(partition int, value []byte) {
	ch, err := DecodeChange(value)
	if err != nil {
		c.result.Malformed++
		return
	}
	if ch.Forget != "" {
		// A deletion is every company's of its partition (each copy of
		// it, one per partition, reaches the companies there).
		c.result.Deletions++
		for _, id := range c.seen[partition] {
			one := ch
			one.To = id
			c.received[id] = append(c.received[id], one)
		}
		return
	}
	if _, ok := c.received[ch.To]; !ok {
		c.seen[partition] = append(c.seen[partition], ch.To)
	}
	c.received[ch.To] = append(c.received[ch.To], ch)
}

// Crossing adds a crossing read from the crossings topic; contact
// crossings are not the check's and are skipped.
func (c *CrossingCheck) Crossing(x events.Crossing) {
	if x.Level != events.LevelCompany {
		return
	}
	x.Contact = nil
	if prev, seen := c.got[x.CrossingID]; seen {
		if !reflect.DeepEqual(prev, x) {
			c.result.Conflicting++
			c.conflicts = append(c.conflicts, fmt.Sprintf("company crossing %s announced twice with different content", x.CrossingID))
		}
		return
	}
	c.got[x.CrossingID] = x
	c.order = append(c.order, x.CrossingID)
}

// Result compares what was announced with the reference over what was
// received.
func (c *CrossingCheck) Result() CrossingResult {
	r := c.result
	r.Companies = len(c.received)
	example := func(format string, args ...any) {
		if len(r.Examples) < 5 {
			r.Examples = append(r.Examples, fmt.Sprintf(format, args...))
		}
	}
	for _, e := range c.conflicts {
		example("%s", e)
	}
	want := map[string]Crossing{}
	var wantOrder []string
	for id, list := range c.received {
		for _, m := range c.set.Companies {
			for _, x := range Crossings(m, id, list) {
				if _, ok := want[x.ID]; !ok {
					wantOrder = append(wantOrder, x.ID)
				}
				want[x.ID] = x
			}
		}
	}
	r.Expected = len(want)
	for _, id := range c.order {
		x := c.got[id]
		w, ok := want[id]
		switch {
		case !ok:
			r.Unexpected++
			example("company crossing %s (%s/%s by %s's %s) is not the reference's", x.CrossingID, x.CompanyID, x.Model, x.ContactID, x.EventID)
		case !sameCrossing(x, w):
			r.Differing++
			example("company crossing %s: %s/%s/%s score %v by %s's %s; reference %s/%s/%s score %v by %s's %s", x.CrossingID,
				x.CompanyID, x.Model, x.ThresholdName, x.Score, x.ContactID, x.EventID,
				w.CompanyID, w.Model, w.Threshold.Name, rules.Float(w.Score), w.ContactID, w.EventID)
		}
	}
	for _, id := range wantOrder {
		if _, ok := c.got[id]; !ok {
			w := want[id]
			r.Missing++
			example("the reference's company crossing %s (%s/%s/%s by %s's %s) was not announced", id, w.CompanyID, w.Model, w.Threshold.Name, w.ContactID, w.EventID)
		}
	}
	return r
}

// sameCrossing reports whether an announced crossing says what the
// reference's does.
func sameCrossing(x events.Crossing, w Crossing) bool {
	if x.CompanyID != w.CompanyID || x.Model != w.Model || x.ThresholdName != w.Threshold.Name || x.Score != rules.Float(w.Score) ||
		x.ContactID != w.ContactID || x.EventID != w.EventID || !x.CrossedAt.Equal(w.At) || len(x.Members) != len(w.Top) {
		return false
	}
	for i, m := range x.Members {
		t := w.Top[i]
		if m.ContactID != t.ContactID || m.Score != rules.Float(t.Score) || m.Role != t.Role || m.OwnerID != t.Owner {
			return false
		}
	}
	return true
}
