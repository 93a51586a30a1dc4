package backtest

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

// Explanation is a contact's scores taken apart, model by model.
type Explanation struct {
	ContactID string
	At        time.Time
	Events    int
	Models    []scoring.Breakdown
	Crossings [][]scoring.Crossing // per model
}

// Collect reads the events of one contact from in (other contacts are
// skipped, so memory grows with that contact's events only).
func Collect(in io.Reader, contactID string, badLine func(*events.LineError)) ([]events.Event, error) {
	var out []events.Event
	err := events.NewReader(in).Each(func(ev events.Event) error {
		if ev.ContactID == contactID {
			out = append(out, ev)
		}
		return nil
	}, badLine)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Explain takes apart the scores of a contact's events at asOf (zero: at
// its latest event).
func Explain(e *scoring.Engine, contactID string, evs []events.Event, asOf time.Time) Explanation {
	evs = scoring.Dedup(evs)
	sort.Slice(evs, func(i, j int) bool { return evs[i].Before(&evs[j]) })
	x := Explanation{ContactID: contactID, At: asOf, Crossings: make([][]scoring.Crossing, len(e.Rules.Models))}
	if asOf.IsZero() && len(evs) > 0 {
		x.At = evs[len(evs)-1].OccurredAt
	}
	s := scoring.NewScorer(e)
	s.AsOf = x.At.UnixNano()
	var c scoring.Contact
	for i := range evs {
		if evs[i].OccurredAt.After(x.At) {
			continue
		}
		x.Events++
		for _, h := range s.Apply(&c, &evs[i]).Hits {
			m := e.Rules.Models[h.Model]
			x.Crossings[h.Model] = append(x.Crossings[h.Model], scoring.Crossing{
				Model: m.Name, Threshold: m.Thresholds[h.Threshold], At: evs[i].OccurredAt, EventID: evs[i].ID, Score: h.Score,
			})
		}
	}
	for _, m := range e.Rules.Models {
		x.Models = append(x.Models, scoring.Evaluate(m, evs, x.At))
	}
	return x
}

// Write prints an explanation for a person: per model and group, each
// counted event with its points and decay factor, the caps applied, and
// totals that add up to the score.
func (x Explanation) Write(w io.Writer, set *rules.Set) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "contact %s at %s: %d events, rules %s\n", x.ContactID, stamp(x.At), x.Events, set.Version)
	for mi, bd := range x.Models {
		m := set.Models[mi]
		fmt.Fprintf(b, "\n%s: %s points", bd.Model, rules.FormatPoints(bd.Score))
		if m.Decays() {
			fmt.Fprintf(b, " (contributions halve every %s)", rules.FormatDuration(m.HalfLife))
		}
		b.WriteString("\n")
		var t table
		for gi, g := range bd.Groups {
			if len(g.Counted) == 0 && len(g.Dropped) == 0 {
				continue
			}
			rule := m.Groups[gi]
			t.row("  "+g.Name, "", rules.FormatPoints(g.Sum))
			for _, c := range g.Counted {
				decay := ""
				if m.Decays() {
					decay = fmt.Sprintf("%s x %.6f =", rules.FormatPoints(c.Points), c.Factor)
				}
				t.row("    "+c.EventID+"  "+stamp(c.At), decay, signed(c.Value))
			}
			if g.Sum != g.Raw {
				cap, limit := "max", rule.Max
				if g.Sum > g.Raw {
					cap, limit = "min", rule.Min
				}
				t.row(fmt.Sprintf("    raw %s, capped at %s %s", rules.FormatPoints(g.Raw), cap, rules.FormatPoints(*limit)), "", signed(g.Sum-g.Raw))
			}
			for _, d := range g.Dropped {
				t.row("    "+d.EventID+"  "+stamp(d.At)+"  not counted: "+d.Reason, "", "")
			}
		}
		t.row("  sum of groups", "", rules.FormatPoints(bd.Raw))
		if bd.Score != bd.Raw {
			name, limit := "max_score", m.MaxScore
			if bd.Score > bd.Raw {
				name, limit = "min_score", m.MinScore
			}
			t.row(fmt.Sprintf("  capped at %s %s", name, rules.FormatPoints(*limit)), "", signed(bd.Score-bd.Raw))
		}
		t.row("  score", "", rules.FormatPoints(bd.Score))
		t.write(b)
		for _, th := range m.Thresholds {
			fmt.Fprintf(b, "  threshold %s at %s (re-arms below %s):", th.Name, rules.FormatPoints(th.At), rules.FormatPoints(th.RearmBelow))
			n := 0
			for _, c := range x.Crossings[mi] {
				if c.Threshold.Name == th.Name {
					fmt.Fprintf(b, " crossed %s by %s (score %s);", stamp(c.At), c.EventID, rules.FormatPoints(c.Score))
					n++
				}
			}
			if n == 0 {
				b.WriteString(" not crossed")
			}
			b.WriteString("\n")
		}
		if len(bd.Errors) > 0 {
			fmt.Fprintf(b, "  %d expression errors (no match):\n", len(bd.Errors))
			for i, err := range bd.Errors {
				if i == maxExamples {
					fmt.Fprintf(b, "    ... and %d more\n", len(bd.Errors)-maxExamples)
					break
				}
				fmt.Fprintf(b, "    %s\n", err.Error())
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func signed(p rules.Points) string {
	if p >= 0 {
		return "+" + rules.FormatPoints(p)
	}
	return rules.FormatPoints(p)
}

// table lays out rows with a left-aligned label and right-aligned numbers;
// labels that overflow (reasons for not counting) are not padded.
type table struct{ rows [][3]string }

func (t *table) row(label, calc, value string) {
	t.rows = append(t.rows, [3]string{label, calc, value})
}

func (t *table) write(b *strings.Builder) {
	w := [3]int{}
	for _, r := range t.rows {
		if r[2] == "" {
			continue
		}
		for i := range r {
			w[i] = max(w[i], len(r[i]))
		}
	}
	for _, r := range t.rows {
		if r[2] == "" {
			b.WriteString(r[0] + "\n")
			continue
		}
		fmt.Fprintf(b, "%-*s  %*s %*s\n", w[0], r[0], w[1], r[1], w[2], r[2])
	}
}
