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
	return scoreLine(s, id, c, mi, T, true)
}

// scoreLine is ScoreLine, with the group sums left out (Groups nil) when
// groups is false: a comparison of two rule sets needs only the scores.
func scoreLine(s *scoring.Scorer, id string, c *scoring.Contact, mi int, T int64, groups bool) Line {
	m := s.Rules.Models[mi]
	l := Line{ContactID: id, Model: m.Name, Score: rules.Float(s.Score(c, mi, T)), Crossings: []time.Time{}}
	if groups {
		l.Groups = map[string]float64{}
		s.GroupSums(c, mi, T, func(g int, v rules.Points) { l.Groups[m.Groups[g].Name] = rules.Float(v) })
	}
	return l
}
