package accounts

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/scorebridge/scorebridge/events"
)

// History generates n events of the given contacts over the given
// companies, with contacts moving between companies, roles changing, events
// without a company and ties on time: the shapes the semantics must hold
// over. For tests and benchmarks.
func History(r *rand.Rand, contacts, companies, n int) []events.Event {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	types := []string{"call", "open", "open", "open", "unsub"}
	roles := []string{"champion", "economic_buyer", "technical_evaluator", "intern"}
	out := make([]events.Event, n)
	for i := range out {
		c := r.IntN(contacts)
		ev := events.Event{
			ID:         fmt.Sprintf("e%05d", i),
			Type:       types[r.IntN(len(types))],
			ContactID:  fmt.Sprintf("c%03d", c),
			OccurredAt: start.Add(time.Duration(r.IntN(96)) * time.Hour), // ties on time are common
		}
		switch r.IntN(6) {
		case 0, 1, 2: // its usual company
			ev.CompanyID = fmt.Sprintf("co%02d", c%companies)
		case 3: // a move
			ev.CompanyID = fmt.Sprintf("co%02d", r.IntN(companies))
		}
		if r.IntN(4) == 0 {
			ev.Contact = map[string]any{"job_role": roles[r.IntN(len(roles))]}
		}
		out[i] = ev
	}
	return out
}
