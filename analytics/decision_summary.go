package analytics

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// DecisionSummaryReport counts the crossings by the bridge's latest
// decision about each: what `scorer report decisions --summary` prints and
// the demo's closing report shows.
type DecisionSummaryReport struct {
	Rows []DecisionCount `json:"rows"`
	// ExampleEnrolled is a contact enrolled in a sequence (the smallest
	// id), for `report decisions --contact`; empty when there is none.
	ExampleEnrolled string   `json:"example_enrolled_contact"`
	SQL             []string `json:"-"`
}

// DecisionCount is the number of crossings whose latest decision has this
// outcome and target kind. Outcome is "outcome:reason" when there is a
// reason; HubSpot's refusals, whose reason is its message (one per
// contact), are grouped as "outcome:remote" with one message as Example.
type DecisionCount struct {
	Outcome    string `json:"outcome"`
	TargetKind string `json:"target_kind"`
	Crossings  uint64 `json:"crossings"`
	Example    string `json:"example,omitempty"`
}

// The latest decision of each crossing: a held one may since have been
// enrolled. Audit rows repeat (at-least-once), hence the arg-max. The
// unenrollments of workflows that made room for a sequence are not
// decisions about the crossing.
const decisionSummarySQL = `SELECT d_outcome, d_reason, d_kind, count() AS n FROM (
    SELECT crossing_id,
        argMax(outcome, decided_us) AS d_outcome,
        argMax(reason, decided_us) AS d_reason,
        argMax(target_kind, decided_us) AS d_kind
    FROM decisions
    WHERE outcome != 'workflow_unenrolled' AND NOT (outcome = 'failed' AND reason = 'unenroll')
    GROUP BY crossing_id)
GROUP BY d_outcome, d_reason, d_kind`

const exampleEnrolledSQL = `SELECT contact_id FROM decisions
WHERE outcome = 'enrolled' AND target_kind = 'sequence' ORDER BY contact_id LIMIT 1`

// DecisionSummary counts crossings by their latest decision, largest
// count first.
func (s *Store) DecisionSummary(ctx context.Context) (DecisionSummaryReport, error) {
	return decisionSummary(ctx, s.db)
}

func decisionSummary(ctx context.Context, d db) (DecisionSummaryReport, error) {
	rep := DecisionSummaryReport{SQL: []string{decisionSummarySQL, exampleEnrolledSQL}}
	type key struct{ outcome, kind string }
	counts := map[key]uint64{}
	examples := map[key]string{}
	err := each(ctx, d, decisionSummarySQL, func(r rows) error {
		var outcome, reason, kind string
		var n uint64
		if err := r.Scan(&outcome, &reason, &kind, &n); err != nil {
			return err
		}
		k := key{outcome, kind}
		switch {
		case strings.ContainsRune(reason, ' '):
			k.outcome += ":remote"
			examples[k] = reason
		case reason != "":
			k.outcome += ":" + reason
		}
		counts[k] += n
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("decision summary: %w", err)
	}
	for k, n := range counts {
		rep.Rows = append(rep.Rows, DecisionCount{Outcome: k.outcome, TargetKind: k.kind, Crossings: n, Example: examples[k]})
	}
	sort.Slice(rep.Rows, func(i, j int) bool {
		a, b := rep.Rows[i], rep.Rows[j]
		if a.Crossings != b.Crossings {
			return a.Crossings > b.Crossings
		}
		return a.Outcome+a.TargetKind < b.Outcome+b.TargetKind
	})
	err = each(ctx, d, exampleEnrolledSQL, func(r rows) error { return r.Scan(&rep.ExampleEnrolled) })
	if err != nil {
		return rep, fmt.Errorf("an enrolled contact: %w", err)
	}
	return rep, nil
}

// Outcomes lists the outcomes the report holds.
func (r DecisionSummaryReport) Outcomes() []string {
	out := make([]string, len(r.Rows))
	for i, x := range r.Rows {
		out[i] = x.Outcome
	}
	return out
}

// Table implements Report.
func (r DecisionSummaryReport) Table() ([]string, [][]string) {
	rows := make([][]string, len(r.Rows))
	for i, x := range r.Rows {
		kind, ex := x.TargetKind, ""
		if kind == "" {
			kind = "-"
		}
		if x.Example != "" {
			ex = "e.g. " + x.Example
		}
		rows[i] = []string{x.Outcome, kind, strconv.FormatUint(x.Crossings, 10), ex}
	}
	return []string{"outcome", "target", "crossings", "example"}, rows
}
