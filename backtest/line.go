package backtest

import (
	"time"

	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

// ScoreLine is contact id's line for model mi at T (unix nanos): its score
// and group sums under s, with no crossings yet (an empty list). The
// backtest, the live score endpoint and `scorer state dump` all build
// their lines here, so they print the same thing for the same state.
func ScoreLine(s *scoring.Scorer, id string, c *scoring.Contact, mi int, T int64) Line {
	m := s.Rules.Models[mi]
	l := Line{ContactID: id, Model: m.Name, Score: rules.Float(s.Score(c, mi, T)), Groups: map[string]float64{}, Crossings: []time.Time{}}
	s.GroupSums(c, mi, T, func(g int, v rules.Points) { l.Groups[m.Groups[g].Name] = rules.Float(v) })
	return l
}
