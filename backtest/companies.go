package backtest

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

// CompanyLine is one (company, company model) result of a backtest.
type CompanyLine struct {
	CompanyID string  `json:"company_id"`
	Model     string  `json:"model"`
	Score     float64 `json:"score"`
	// Contacts are the members with their current scores (in the model's
	// from model), counted or not.
	Contacts  map[string]float64 `json:"contacts"`
	Coverage  []string           `json:"coverage"`
	Crossings []time.Time        `json:"crossings"`
	// Thresholds names the threshold of each crossing.
	Thresholds []string `json:"-"`
}

// RunCompanies scores the company models of e's rule set over in: events
// in the order read, through contact scoring, membership and company
// aggregation as the live service runs them, every change delivered at
// once. It emits a CompanyLine per (company, company model), in company
// then model order. Events after asOf (when set) are ignored.
func RunCompanies(e *scoring.Engine, in io.Reader, asOf time.Time, emit func(CompanyLine) error) error {
	if len(e.Rules.Companies) == 0 {
		return nil
	}
	scores, crossings, err := CompanyScores(e, in, asOf)
	if err != nil {
		return err
	}
	for _, l := range CompanyLines(scores, crossings) {
		if err := emit(l); err != nil {
			return err
		}
	}
	return nil
}

// CompanyLines summarises company scores and crossings (CompanyScores) as
// the backtest's company lines, in the scores' order.
func CompanyLines(scores []accounts.Score, crossings map[[2]string][]accounts.Crossing) []CompanyLine {
	out := make([]CompanyLine, 0, len(scores))
	for _, s := range scores {
		l := CompanyLine{CompanyID: s.CompanyID, Model: s.Model, Score: rules.Float(s.Score),
			Contacts: map[string]float64{}, Coverage: s.Coverage, Crossings: []time.Time{}}
		for _, c := range s.Contacts {
			l.Contacts[c.ContactID] = rules.Float(c.Score)
		}
		if l.Coverage == nil {
			l.Coverage = []string{}
		}
		for _, x := range crossings[[2]string{s.CompanyID, s.Model}] {
			l.Crossings = append(l.Crossings, x.At)
			l.Thresholds = append(l.Thresholds, x.Threshold.Name)
		}
		out = append(out, l)
	}
	return out
}

// CompanyScores runs the company models of e's rule set over in as
// RunCompanies does and returns the final scores taken apart (by company
// then model) and each (company, model)'s crossings in order: what a
// company line summarises, for those who show more of it (the studio).
func CompanyScores(e *scoring.Engine, in io.Reader, asOf time.Time) ([]accounts.Score, map[[2]string][]accounts.Crossing, error) {
	return companyScores(e, in, asOf, companyProjection(e.Rules))
}

// companyScores is CompanyScores decoding events with proj.
func companyScores(e *scoring.Engine, in io.Reader, asOf time.Time, proj *events.Projection) ([]accounts.Score, map[[2]string][]accounts.Crossing, error) {
	sim := accounts.NewSim(e)
	if !asOf.IsZero() {
		sim.AsOf(asOf)
	}
	r := events.NewReader(in)
	r.Project(proj)
	err := r.Each(func(ev events.Event) error {
		sim.Add(&ev)
		return nil
	}, nil) // the contact pass reports bad lines
	if err != nil {
		return nil, nil, err
	}
	return sim.Scores(), crossingsOf(sim), nil
}

// CompanyExplanation is a company's scores taken apart: its members, their
// roles and scores, the rollup and coverage, and its crossings.
type CompanyExplanation struct {
	CompanyID string
	// AsOf is the time the company is scored at (zero: after every event).
	AsOf      time.Time
	Events    int // of the contacts that ever named the company, until AsOf
	Scores    []accounts.Score
	Crossings []accounts.Crossing
	// Left are contacts that named the company once and now belong to
	// another (or to none), with where they are now.
	Left map[string]string
}

// CollectCompany reads the events of every contact that names the company
// in some event: two passes over the input (reopen gives it again).
func CollectCompany(reopen func() (io.ReadCloser, error), companyID string, badLine func(*events.LineError)) ([]events.Event, error) {
	rc, err := reopen()
	if err != nil {
		return nil, err
	}
	named := map[string]bool{}
	err = events.NewReader(rc).Each(func(ev events.Event) error {
		if ev.CompanyID == companyID {
			named[ev.ContactID] = true
		}
		return nil
	}, badLine)
	rc.Close()
	if err != nil || len(named) == 0 {
		return nil, err
	}
	if rc, err = reopen(); err != nil {
		return nil, err
	}
	defer rc.Close()
	var out []events.Event
	err = events.NewReader(rc).Each(func(ev events.Event) error {
		if named[ev.ContactID] {
			out = append(out, ev)
		}
		return nil
	}, nil)
	return out, err
}

// ExplainCompany takes apart a company's scores from the events of the
// contacts that ever named it (CollectCompany), read in the order given.
// Events after asOf (when set) are ignored, as RunCompanies ignores them:
// the explanation is the company line of a backtest with --as-of.
func ExplainCompany(e *scoring.Engine, companyID string, evs []events.Event, asOf time.Time) CompanyExplanation {
	// As the scorer does: the first event of an id wins, then a later one
	// is ignored (a duplicate of a future event stays a duplicate).
	counted := scoring.Dedup(evs)
	if !asOf.IsZero() {
		kept := counted[:0]
		for _, ev := range counted {
			if !ev.OccurredAt.After(asOf) {
				kept = append(kept, ev)
			}
		}
		counted = kept
	}
	x := CompanyExplanation{CompanyID: companyID, AsOf: asOf, Events: len(counted), Left: map[string]string{}}
	members := accounts.Members(e.Rules, counted)
	var list []*accounts.Member
	for _, m := range members {
		if m.CompanyID == companyID {
			list = append(list, m)
		} else {
			x.Left[m.ContactID] = m.CompanyID
		}
	}
	for _, m := range e.Rules.Companies {
		x.Scores = append(x.Scores, accounts.Evaluate(m, companyID, list))
	}
	sim := accounts.NewSim(e)
	if !asOf.IsZero() {
		sim.AsOf(asOf)
	}
	for i := range evs {
		sim.Add(&evs[i])
	}
	for _, c := range sim.Crossings {
		if c.CompanyID == companyID {
			x.Crossings = append(x.Crossings, c)
		}
	}
	return x
}

// Write prints a company explanation for a person: per company model, each
// member with its score and role and whether it counts, the rollup, the
// coverage points per role, the clamp and the crossings.
func (x CompanyExplanation) Write(w io.Writer, set *rules.Set) error {
	b := &strings.Builder{}
	asOf := ""
	if !x.AsOf.IsZero() {
		asOf = " as of " + stamp(x.AsOf)
	}
	fmt.Fprintf(b, "company %s%s: %d events of the contacts that named it, rules %s\n", x.CompanyID, asOf, x.Events, set.Version)
	for _, s := range x.Scores {
		m := set.Company(s.Model)
		fmt.Fprintf(b, "\n%s: %s points (company model from %s, rollup %s", s.Model, rules.FormatPoints(s.Score), m.From, m.Rollup)
		if m.Rollup == rules.RollupAvgTopN {
			fmt.Fprintf(b, " of the top %d", m.TopN)
		}
		fmt.Fprintf(b, ", contacts count from %s)\n", rules.FormatPoints(m.MinContactScore))
		var t table
		for _, c := range s.Contacts {
			label := "  " + c.ContactID
			if c.Role != "" {
				label += " (" + c.Role + ")"
			}
			switch {
			case !c.Counted:
				t.row(label+"  not counted: below min_contact_score "+rules.FormatPoints(m.MinContactScore)+" ("+rules.FormatPoints(c.Score)+")", "", "")
			case !c.InRollup:
				t.row(label+"  counted for coverage, not among the top "+fmt.Sprint(m.TopN)+" ("+rules.FormatPoints(c.Score)+")", "", "")
			default:
				t.row(label, "", rules.FormatPoints(c.Score))
			}
		}
		switch m.Rollup {
		case rules.RollupAvgTopN:
			t.row("  rollup: mean of the top "+fmt.Sprint(m.TopN), "", rules.FormatPoints(s.Rollup))
		default:
			t.row("  rollup: "+string(m.Rollup), "", rules.FormatPoints(s.Rollup))
		}
		for _, r := range s.Coverage {
			t.row("  coverage: "+r+" present", "", signed(m.Coverage.Roles[r]))
		}
		if m.Coverage != nil {
			var missing []string
			for r := range m.Coverage.Roles {
				if !contains(s.Coverage, r) {
					missing = append(missing, r)
				}
			}
			sort.Strings(missing)
			if len(missing) > 0 {
				t.row("  coverage: no counted "+strings.Join(missing, ", "), "", "")
			}
		}
		raw := s.Rollup + s.CoveragePoints
		if s.Score != raw {
			name, limit := "max_score", m.MaxScore
			if s.Score > raw {
				name, limit = "min_score", m.MinScore
			}
			t.row(fmt.Sprintf("  capped at %s %s", name, rules.FormatPoints(*limit)), "", signed(s.Score-raw))
		}
		t.row("  score", "", rules.FormatPoints(s.Score))
		t.write(b)
		for _, th := range m.Thresholds {
			fmt.Fprintf(b, "  threshold %s at %s (re-arms below %s):", th.Name, rules.FormatPoints(th.At), rules.FormatPoints(th.RearmBelow))
			n := 0
			for _, c := range x.Crossings {
				if c.Model == m.Name && c.Threshold.Name == th.Name {
					fmt.Fprintf(b, " crossed %s by %s's %s (score %s);", stamp(c.At), c.ContactID, c.EventID, rules.FormatPoints(c.Score))
					n++
				}
			}
			if n == 0 {
				b.WriteString(" not crossed")
			}
			b.WriteString("\n")
		}
	}
	if len(x.Left) > 0 {
		ids := make([]string, 0, len(x.Left))
		for id := range x.Left {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		b.WriteString("\nnamed the company once, now elsewhere:")
		for _, id := range ids {
			now := x.Left[id]
			if now == "" {
				now = "no company"
			}
			fmt.Fprintf(b, " %s (%s);", id, now)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// CompanyChange is how a rule change moves one company's score in one
// company model.
type CompanyChange struct {
	CompanyID       string   `json:"company_id"`
	Model           string   `json:"model"`
	Old             *float64 `json:"old"` // nil: the company model is new (or the company had no members)
	New             *float64 `json:"new"`
	Delta           float64  `json:"delta"`
	NewlyCrosses    []string `json:"newly_crosses,omitempty"`
	NoLongerCrosses []string `json:"no_longer_crosses,omitempty"`
}

// RescoreCompanies runs the company models of both rule sets over the same
// history and reports every (company, company model) whose score or
// crossings change: crossing changes first, then the largest moves.
func RescoreCompanies(current, next *scoring.Engine, open func() (io.ReadCloser, error)) ([]CompanyChange, error) {
	run := func(e *scoring.Engine) ([]CompanyLine, error) {
		if len(e.Rules.Companies) == 0 {
			return nil, nil
		}
		in, err := open()
		if err != nil {
			return nil, err
		}
		defer in.Close()
		var out []CompanyLine
		err = RunCompanies(e, in, time.Time{}, func(l CompanyLine) error {
			out = append(out, l)
			return nil
		})
		return out, err
	}
	old, err := run(current)
	if err != nil {
		return nil, err
	}
	now, err := run(next)
	if err != nil {
		return nil, err
	}
	return CompareCompanies(old, now), nil
}

// CompareCompanies diffs the company lines of one history under two rule
// sets as RescoreCompanies does.
func CompareCompanies(oldLines, newLines []CompanyLine) []CompanyChange {
	index := func(ls []CompanyLine) map[[2]string]CompanyLine {
		out := make(map[[2]string]CompanyLine, len(ls))
		for _, l := range ls {
			out[[2]string{l.CompanyID, l.Model}] = l
		}
		return out
	}
	old, now := index(oldLines), index(newLines)
	keys := map[[2]string]bool{}
	for k := range old {
		keys[k] = true
	}
	for k := range now {
		keys[k] = true
	}
	var out []CompanyChange
	for k := range keys {
		o, hadOld := old[k]
		n, hasNew := now[k]
		c := CompanyChange{CompanyID: k[0], Model: k[1]}
		if hadOld {
			c.Old = &o.Score
		}
		if hasNew {
			c.New = &n.Score
		}
		c.Delta = n.Score - o.Score
		c.NewlyCrosses = missing(n.Thresholds, o.Thresholds)
		c.NoLongerCrosses = missing(o.Thresholds, n.Thresholds)
		if hadOld == hasNew && c.Delta == 0 && len(c.NewlyCrosses) == 0 && len(c.NoLongerCrosses) == 0 {
			continue
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		ax, bx := len(a.NewlyCrosses)+len(a.NoLongerCrosses) > 0, len(b.NewlyCrosses)+len(b.NoLongerCrosses) > 0
		if ax != bx {
			return ax
		}
		if da, db := abs(a.Delta), abs(b.Delta); da != db {
			return da > db
		}
		if a.CompanyID != b.CompanyID {
			return a.CompanyID < b.CompanyID
		}
		return a.Model < b.Model
	})
	return out
}
