package backtest

import (
	"sort"
	"sync"
	"time"

	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/scoring"
)

// Each calls fn with every valid event of the history in input order,
// duplicates included: what a stream read of the same input gives. fn
// must not keep or change the event.
func (h *History) Each(fn func(*events.Event)) {
	h.inOrder(func(si, p int) { fn(h.shards[si].ev(p)) })
}

// CompanyScores is CompanyScores over the held history: the same scores
// and crossings, without reading or decoding the input again. The
// contacts are scored a shard per core, as Run scores them, each one's
// events in input order; the changes they make are then delivered to the
// companies in the input order of their events, which is all a company's
// scores and crossings depend on.
func (h *History) CompanyScores(e *scoring.Engine, asOf time.Time) ([]accounts.Score, map[[2]string][]accounts.Crossing) {
	newSim := func() *accounts.Sim {
		sim := accounts.NewSim(e)
		if !asOf.IsZero() {
			sim.AsOf(asOf)
		}
		return sim
	}
	steps := make([][]lineChanges, len(h.shards))
	var wg sync.WaitGroup
	for i, sh := range h.shards {
		wg.Go(func() { steps[i] = sh.companySteps(newSim()) })
	}
	wg.Wait()
	sim := newSim()
	heads := make([]int, len(steps))
	for {
		best := -1
		for i, st := range steps {
			if heads[i] < len(st) && (best < 0 || st[heads[i]].line < steps[best][heads[best]].line) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		for _, ch := range steps[best][heads[best]].changes {
			sim.Deliver(ch)
		}
		heads[best]++
	}
	return sim.Scores(), crossingsOf(sim)
}

// lineChanges are the company changes the event of an input line makes.
type lineChanges struct {
	line    int32
	changes []accounts.Change
}

// companySteps steps the shard's events through sim, contact by contact,
// and returns the changes they make in input order.
func (sh *shard) companySteps(sim *accounts.Sim) []lineChanges {
	var out []lineChanges
	for ci := range sh.ids {
		from, to := sh.contactEvents(ci)
		for p := from; p < to; p++ {
			if chs := sim.Step(sh.ev(p)); len(chs) > 0 {
				out = append(out, lineChanges{sh.line[p], chs})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].line < out[j].line })
	return out
}

// crossingsOf groups a run's crossings by (company, model), in order.
func crossingsOf(sim *accounts.Sim) map[[2]string][]accounts.Crossing {
	out := map[[2]string][]accounts.Crossing{}
	for _, x := range sim.Crossings {
		k := [2]string{x.CompanyID, x.Model}
		out[k] = append(out[k], x)
	}
	return out
}
