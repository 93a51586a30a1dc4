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
// crossing changes first, then the largest moves. It changes nothing. The
// history is read and decoded once (History, keeping only the keys either
// rule set reads) and scored on every core.
func Rescore(current, next *scoring.Engine, open func() (io.ReadCloser, error), opts Options) ([]Change, RescoreSummary, error) {
	in, err := open()
	if err != nil {
		return nil, RescoreSummary{}, err
	}
	defer in.Close()
	h, err := load(in, 0, projection2(current.Rules, next.Rules, opts))
	if err != nil {
		return nil, RescoreSummary{}, err
	}
	c, err := h.Compare(current, next, opts)
	return c.Changes, c.Summary, err
}

// Comparison is one history scored under two rule sets.
type Comparison struct {
	Old, New []Line // in contact then model order, without groups
	Changes  []Change
	Summary  RescoreSummary
}

// Compare scores the history under the current and the new rules (bad
// lines are reported once, by the first) and diffs them as Rescore does.
func (h *History) Compare(current, next *scoring.Engine, opts Options) (Comparison, error) {
	var out Comparison
	opts.NoGroups = true
	run := func(e *scoring.Engine, o Options) ([]Line, Summary, error) {
		var lines []Line
		s, err := h.Run(e, o, func(l Line) error { lines = append(lines, l); return nil })
		return lines, s, err
	}
	old, s1, err := run(current, opts)
	if err != nil {
		return out, err
	}
	opts.BadLine = nil // reported once, in the first run
	now, s2, err := run(next, opts)
	if err != nil {
		return out, err
	}
	return CompareLines(old, now, s1, s2), nil
}

// CompareLines diffs two backtests of one history, as Compare does: a
// caller that keeps the current rules' lines scores only the new ones.
func CompareLines(old, now []Line, s1, s2 Summary) Comparison {
	out := Comparison{Old: old, New: now, Summary: RescoreSummary{Current: s1, New: s2, Contacts: s2.Contacts}}
	out.Changes = diff(old, now, &out.Summary)
	return out
}

// diff lists every (contact, model) whose score or crossings differ.
func diff(oldLines, newLines []Line, sum *RescoreSummary) []Change {
	old := make(map[[2]string]*Line, len(oldLines))
	for i := range oldLines {
		old[[2]string{oldLines[i].ContactID, oldLines[i].Model}] = &oldLines[i]
	}
	now := make(map[[2]string]*Line, len(newLines))
	for i := range newLines {
		now[[2]string{newLines[i].ContactID, newLines[i].Model}] = &newLines[i]
	}
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
		var oThresholds, nThresholds []string
		if hadOld {
			c.Old = &o.Score
			oThresholds = o.Thresholds
		}
		if hasNew {
			c.New = &n.Score
			nThresholds = n.Thresholds
		}
		if hadOld && hasNew {
			c.Delta = rules.Float(toPoints(n.Score) - toPoints(o.Score))
		}
		c.NewlyCrosses = missing(nThresholds, oThresholds)
		c.NoLongerCrosses = missing(oThresholds, nThresholds)
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
	return changes
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
