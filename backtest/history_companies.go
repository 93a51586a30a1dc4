package backtest

import (
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
// and crossings, without reading or decoding the input again.
func (h *History) CompanyScores(e *scoring.Engine, asOf time.Time) ([]accounts.Score, map[[2]string][]accounts.Crossing) {
	sim := accounts.NewSim(e)
	if !asOf.IsZero() {
		sim.AsOf(asOf)
	}
	h.Each(sim.Add)
	return sim.Scores(), crossingsOf(sim)
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
