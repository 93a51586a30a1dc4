package main

import (
	"context"
	"fmt"
	"io"
	"reflect"

	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/stream"
)

// companyCrossingProblems checks the company crossings on the crossings
// topic against the reference: accounts.Crossings over the changes each
// company received, in the company topic's order (all of a company's
// changes are on its partition, in the order the aggregator applied
// them; replayed changes are stale there as in the aggregator; a
// contact's deletion, on every partition, reaches each company of its
// partition). Exact without deletions: the aggregator applies a batch's
// deletions first, and drops a privacy-deleted contact's later changes. The ids
// must be the same, and under each id the reference's crossing (company,
// model, threshold, score, causing contact and event, top members); one
// id announced twice must say the same. It prints a summary line on
// stderr and returns the problems found.
func companyCrossingProblems(ctx context.Context, brokers []string, set *rules.Set, crossTopic, companiesTopic string, stderr io.Writer) ([]string, error) {
	received := map[string][]accounts.Change{}
	seen := map[int][]string{} // per partition, the companies with changes so far
	malformed, deletions := 0, 0
	if _, err := stream.ReadTopic(ctx, brokers, companiesTopic, func(m stream.Record) error {
		ch, err := accounts.DecodeChange(m.Value)
		if err != nil {
			malformed++
			return nil
		}
		if ch.Forget != "" {
			// A deletion is every company's of its partition (each copy
			// of it, one per partition, reaches the companies there).
			deletions++
			for _, id := range seen[m.Partition] {
				one := ch
				one.To = id
				received[id] = append(received[id], one)
			}
			return nil
		}
		if _, ok := received[ch.To]; !ok {
			seen[m.Partition] = append(seen[m.Partition], ch.To)
		}
		received[ch.To] = append(received[ch.To], ch)
		return nil
	}); err != nil {
		return nil, err
	}
	want := map[string]accounts.Crossing{}
	for id, list := range received {
		for _, m := range set.Companies {
			for _, x := range accounts.Crossings(m, id, list) {
				want[x.ID] = x
			}
		}
	}
	got := map[string]events.Crossing{}
	conflicting, differing, unexpected := 0, 0, 0
	var examples []string
	example := func(format string, args ...any) {
		if len(examples) < 5 {
			examples = append(examples, fmt.Sprintf(format, args...))
		}
	}
	if _, err := stream.ReadTopic(ctx, brokers, crossTopic, func(m stream.Record) error {
		x, err := events.DecodeCrossing(m.Value)
		if err != nil || x.Level != events.LevelCompany {
			return nil // malformed ones are counted with the contacts'
		}
		x.Contact = nil
		if prev, seen := got[x.CrossingID]; seen {
			if !reflect.DeepEqual(prev, x) {
				conflicting++
				example("company crossing %s announced twice with different content", x.CrossingID)
			}
			return nil
		}
		got[x.CrossingID] = x
		w, ok := want[x.CrossingID]
		switch {
		case !ok:
			unexpected++
			example("company crossing %s (%s/%s by %s's %s) is not the reference's", x.CrossingID, x.CompanyID, x.Model, x.ContactID, x.EventID)
		case !sameCompanyCrossing(x, w):
			differing++
			example("company crossing %s: %s/%s/%s score %v by %s's %s; reference %s/%s/%s score %v by %s's %s", x.CrossingID,
				x.CompanyID, x.Model, x.ThresholdName, x.Score, x.ContactID, x.EventID,
				w.CompanyID, w.Model, w.Threshold.Name, rules.Float(w.Score), w.ContactID, w.EventID)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	missing := 0
	for id, w := range want {
		if _, ok := got[id]; !ok {
			missing++
			example("the reference's company crossing %s (%s/%s/%s by %s's %s) is not on %s", id, w.CompanyID, w.Model, w.Threshold.Name, w.ContactID, w.EventID, crossTopic)
		}
	}
	fmt.Fprintf(stderr, "company crossings in %s against the reference over the changes in %s (%d companies, %d malformed changes, %d deletions): %d expected, %d missing, %d unexpected, %d differing, %d conflicting\n",
		crossTopic, companiesTopic, len(received), malformed, deletions, len(want), missing, unexpected, differing, conflicting)
	if deletions > 0 && missing+unexpected+differing > 0 {
		fmt.Fprintln(stderr, "  (the aggregator applies a batch's deletions before its other changes: crossings next to a deletion may differ from the reference, which applies them in the topic's order)")
	}
	for _, e := range examples {
		fmt.Fprintln(stderr, "  "+e)
	}
	if missing+unexpected+differing+conflicting+malformed > 0 {
		return []string{"the company crossings differ from the reference"}, nil
	}
	return nil, nil
}

// sameCompanyCrossing tells whether x, on the topic, is the reference's w.
func sameCompanyCrossing(x events.Crossing, w accounts.Crossing) bool {
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
