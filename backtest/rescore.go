package backtest

import (
	"io"
	"sort"

	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

// Change is how a rule change moves one contact's score in one model.
type Change struct {
	ContactID string   `json:"contact_id"`
	Model     string   `json:"model"`
	Old       *float64 `json:"old"` // nil: the model is new
	New       *float64 `json:"new"` // nil: the model is removed
	Delta     float64  `json:"delta"`
	// Thresholds crossed at least once under the new rules and never
	// under the current ones, and the reverse.
	NewlyCrosses    []string `json:"newly_crosses,omitempty"`
	NoLongerCrosses []string `json:"no_longer_crosses,omitempty"`
}

// RescoreSummary counts the changes.
type RescoreSummary struct {
	Contacts        int `json:"contacts"`
	Changed         int `json:"changed"` // (contact, model) pairs whose score or crossings change
	Moved           int `json:"moved"`   // of those, whose score moves
	NewlyCrossing   int `json:"newly_crossing"`
	NoLongerCrosses int `json:"no_longer_crossing"`
	Current, New    Summary
}

// Rescore backtests the same history under the current and the new rules
// and reports every (contact, model) whose score or crossings change:
// crossing changes first, then the largest moves. It changes nothing.
func Rescore(current, next *scoring.Engine, open func() (io.ReadCloser, error), opts Options) ([]Change, RescoreSummary, error) {
	var sum RescoreSummary
	run := func(e *scoring.Engine) (map[[2]string]Line, Summary, error) {
		in, err := open()
		if err != nil {
			return nil, Summary{}, err
		}
		defer in.Close()
		out := map[[2]string]Line{}
		s, err := Run(e, in, open, opts, func(l Line) error {
			out[[2]string{l.ContactID, l.Model}] = l
			return nil
		})
		return out, s, err
	}
	old, s1, err := run(current)
	if err != nil {
		return nil, sum, err
	}
	quiet := opts
	quiet.BadLine = nil // reported once, in the first run
	opts = quiet
	now, s2, err := run(next)
	if err != nil {
		return nil, sum, err
	}
	sum.Current, sum.New, sum.Contacts = s1, s2, s2.Contacts
	keys := map[[2]string]bool{}
	for k := range old {
		keys[k] = true
	}
	for k := range now {
		keys[k] = true
	}
	var changes []Change
	for k := range keys {
		o, hadOld := old[k]
		n, hasNew := now[k]
		c := Change{ContactID: k[0], Model: k[1]}
		if hadOld {
			c.Old = &o.Score
		}
		if hasNew {
			c.New = &n.Score
		}
		if hadOld && hasNew {
			c.Delta = rules.Float(toPoints(n.Score) - toPoints(o.Score))
		}
		c.NewlyCrosses = missing(n.Thresholds, o.Thresholds)
		c.NoLongerCrosses = missing(o.Thresholds, n.Thresholds)
		if hadOld && hasNew && c.Delta == 0 && len(c.NewlyCrosses) == 0 && len(c.NoLongerCrosses) == 0 {
			continue
		}
		sum.Changed++
		if c.Delta != 0 || !hadOld || !hasNew {
			sum.Moved++
		}
		if len(c.NewlyCrosses) > 0 {
			sum.NewlyCrossing++
		}
		if len(c.NoLongerCrosses) > 0 {
			sum.NoLongerCrosses++
		}
		changes = append(changes, c)
	}
	// Crossing changes first (who would be enrolled or not), then the
	// largest moves.
	sort.Slice(changes, func(i, j int) bool {
		a, b := changes[i], changes[j]
		ca := len(a.NewlyCrosses)+len(a.NoLongerCrosses) > 0
		cb := len(b.NewlyCrosses)+len(b.NoLongerCrosses) > 0
		if ca != cb {
			return ca
		}
		if abs(a.Delta) != abs(b.Delta) {
			return abs(a.Delta) > abs(b.Delta)
		}
		if a.ContactID != b.ContactID {
			return a.ContactID < b.ContactID
		}
		return a.Model < b.Model
	})
	return changes, sum, nil
}

func toPoints(f float64) rules.Points { p, _ := rules.ToPoints(f); return p }

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// missing lists the names in a that are not in b, once each, sorted.
func missing(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	seen := map[string]bool{}
	var out []string
	for _, x := range a {
		if !in[x] && !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}
