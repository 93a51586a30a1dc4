package companyscores

import (
	"fmt"
	"slices"
	"sort"

	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
)

// Compare holds the latest message of every company (latest, keyed by
// company id) to the reference of the history evs under set's company
// models (accounts.Companies), as `scorer state company-scores --events`
// does. A company the reference has and latest lacks is missing; one on
// the topic with no member left is held to a model of nothing. report,
// when not nil, gets a line for each company missing or differing (the
// first model that differs, and how: Differs). Companies are visited in
// order of id.
func Compare(set *rules.Set, evs []events.Event, latest map[string]Message, report func(line string)) (differ, missing int) {
	if report == nil {
		report = func(string) {}
	}
	want := map[string]map[string]accounts.Score{}
	for _, s := range accounts.Companies(set, evs) {
		if want[s.CompanyID] == nil {
			want[s.CompanyID] = map[string]accounts.Score{}
		}
		want[s.CompanyID][s.Model] = s
	}
	var ids []string
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var gone []string
	for id := range latest {
		if want[id] == nil {
			gone = append(gone, id) // on the topic, no member left: scores of nothing
		}
	}
	sort.Strings(gone)
	for _, id := range append(ids, gone...) {
		got, ok := latest[id]
		if !ok {
			missing++
			report(fmt.Sprintf("  %s: no message on the topic", id))
			continue
		}
		for _, cm := range set.Companies {
			ref, ok := want[id][cm.Name]
			if !ok {
				ref = accounts.Evaluate(cm, id, nil)
			}
			if why := Differs(got.Models[cm.Name], ref); why != "" {
				differ++
				report(fmt.Sprintf("  %s %s: %s", id, cm.Name, why))
				break
			}
		}
	}
	return differ, missing
}

// Differs says how a message's model differs from the reference's score
// of the company (score, rollup, coverage, members and counted members,
// top members); "" when it does not. The threshold state is not compared:
// company crossings follow the order the aggregator received its changes
// in.
func Differs(got Model, ref accounts.Score) string {
	counted := 0
	for _, c := range ref.Contacts {
		if c.Counted {
			counted++
		}
	}
	var top []Contact
	for _, c := range accounts.Top(ref) {
		top = append(top, Contact{ContactID: c.ContactID, Score: rules.Float(c.Score), Role: c.Role})
	}
	switch {
	case got.Score != rules.Float(ref.Score):
		return fmt.Sprintf("score %v, backtest %v", got.Score, rules.Float(ref.Score))
	case got.Rollup != rules.Float(ref.Rollup):
		return fmt.Sprintf("rollup %v, backtest %v", got.Rollup, rules.Float(ref.Rollup))
	case !slices.Equal(got.Coverage, append([]string{}, ref.Coverage...)):
		return fmt.Sprintf("coverage %v, backtest %v", got.Coverage, ref.Coverage)
	case got.Members != len(ref.Contacts) || got.Counted != counted:
		return fmt.Sprintf("%d members (%d counted), backtest %d (%d)", got.Members, got.Counted, len(ref.Contacts), counted)
	case !slices.Equal(got.Top, top) && !(len(got.Top) == 0 && len(top) == 0):
		return fmt.Sprintf("top %v, backtest %v", got.Top, top)
	}
	return ""
}
