package calibration

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/rules"
)

// StoredQuery is `scorer report calibration`: the models of Rules (all,
// or those named in Models) calibrated at AsOf over the stored history.
type StoredQuery struct {
	Query
	Rules  *rules.Set
	Models []string
}

// FromStore measures how well each model's score at AsOf predicts a
// conversion in the window after it, from the touches and the score
// ledger that s keeps. The SQL rebuilds each score at AsOf from the
// ledger's awards with the rules' windows, first-match groups, decay and
// caps (the ledger's running deltas give the score at a contact's last
// event, not at AsOf), so it equals FromHistory (`scorer calibrate`) over
// the same history scored by the same rules. The report's SQL holds the
// queries it ran, one a model.
func FromStore(ctx context.Context, s *analytics.Store, q StoredQuery) (Report, error) {
	rep := NewReport(q.Query)
	if err := q.Validate(); err != nil {
		return rep, err
	}
	models, err := pickModels(q.Rules, q.Models)
	if err != nil {
		return rep, err
	}
	for _, m := range models {
		sql := StoredSQL(m, q.Query)
		rep.SQL = append(rep.SQL, sql)
		bs, err := scoreBuckets(ctx, s, sql)
		if err != nil {
			return rep, fmt.Errorf("calibration query of model %s: %w", m.Name, err)
		}
		rep.Models = append(rep.Models, Summarize(m.Name, bs, m.Thresholds, q.Bands))
	}
	return rep, nil
}

func pickModels(set *rules.Set, names []string) ([]*rules.Model, error) {
	if set == nil {
		return nil, fmt.Errorf("--rules is required: the rule files whose scores the ledger holds (their windows, caps, decay and thresholds)")
	}
	if len(names) == 0 {
		return set.Models, nil
	}
	var out []*rules.Model
	for _, n := range names {
		m := set.Model(n)
		if m == nil {
			return nil, fmt.Errorf("--model %q: no such model in the rules (have %s)", n, modelNames(set))
		}
		out = append(out, m)
	}
	return out, nil
}

func modelNames(set *rules.Set) string {
	names := make([]string, len(set.Models))
	for i, m := range set.Models {
		names[i] = m.Name
	}
	return strings.Join(names, ", ")
}

func scoreBuckets(ctx context.Context, s *analytics.Store, sql string) ([]Bucket, error) {
	rows, err := s.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Bucket
	for rows.Next() {
		var score int64
		var contacts, converted uint64
		if err := rows.Scan(&score, &contacts, &converted); err != nil {
			return nil, err
		}
		out = append(out, Bucket{Score: score, Contacts: int64(contacts), Converted: int64(converted)})
	}
	return out, rows.Err()
}

// StoredSQL is one model's query: a row per distinct score at AsOf,
// with the contacts of the population at that score and how many of them
// converted. Times are compared in microseconds, as the tables keep them.
//
//   - population (touches): contacts with a touch at or before T0 and no
//     conversion touch at or before T0; converted: a conversion touch in
//     (T0, T0 + window].
//   - score (score_ledger): every ledger row of a group is a match with the
//     points its rule awarded; a row counts when at or before T0 and, for a
//     windowed group, after T0 - window; with decay it is worth
//     round(points * 2^(-(T0 - t) / half_life)); a non-repeatable group
//     keeps only its first match by (occurred_us, event_id); each group sum
//     is clamped to its min/max, the total to min_score/max_score.
func StoredSQL(m *rules.Model, q Query) string {
	t0 := q.AsOf.UnixMicro()
	t1 := q.AsOf.Add(q.Window).UnixMicro()
	conv := analytics.Quote(q.Conversion)
	names := make([]string, len(m.Groups))
	var firsts []string
	var window, clamp []string
	for i, g := range m.Groups {
		names[i] = analytics.Quote(g.Name)
		if !g.Repeatable {
			firsts = append(firsts, analytics.Quote(g.Name))
		}
		if g.Window > 0 {
			window = append(window, "group_name = "+analytics.Quote(g.Name), lit(t0-g.Window.Microseconds()))
		}
		if g.Max != nil || g.Min != nil {
			clamp = append(clamp, "group_name = "+analytics.Quote(g.Name), clampExpr("gsum", g.Min, g.Max))
		}
	}
	value := "points"
	if m.Decays() {
		hl := i64(m.HalfLife.Microseconds())
		decayed := "points * exp2(-(" + i64(t0) + " - occurred_us) / " + hl + ")"
		// Go's math.Round: half away from zero.
		value = "if(occurred_us < " + i64(t0) + ", toInt64(if(" + decayed + " < 0, -floor(-(" + decayed + ") + 0.5), floor(" + decayed + " + 0.5))), points)"
	}
	if len(window) > 0 {
		value = "if(occurred_us > multiIf(" + strings.Join(window, ", ") + ", toInt64(-9223372036854775808)), " + value + ", 0)"
	}
	gsum := "sum(value)"
	if len(firsts) > 0 {
		gsum = "if(group_name IN (" + strings.Join(firsts, ", ") + "), argMin(value, (occurred_us, event_id)), sum(value))"
	}
	groupClamp := "gsum"
	if len(clamp) > 0 {
		groupClamp = "multiIf(" + strings.Join(clamp, ", ") + ", gsum)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `SELECT score, count() AS contacts, sum(converted) AS converted
FROM (
    SELECT %s AS score, converted
    FROM (
        SELECT contact_id, max(type = %s AND occurred_us > %d) AS converted
        FROM touches FINAL
        WHERE occurred_us <= %d
        GROUP BY contact_id
        HAVING min(occurred_us) <= %d AND max(type = %s AND occurred_us <= %d) = 0
    ) AS population
    ANY LEFT JOIN (
        SELECT contact_id, sum(%s) AS raw
        FROM (
            SELECT contact_id, group_name, %s AS gsum
            FROM (
                SELECT contact_id, group_name, event_id, occurred_us, %s AS value
                FROM score_ledger FINAL
                WHERE model = %s AND occurred_us <= %d AND group_name IN (%s)
            )
            GROUP BY contact_id, group_name
        )
        GROUP BY contact_id
    ) AS scores USING contact_id
)
GROUP BY score
ORDER BY score DESC`,
		clampExpr("raw", m.MinScore, m.MaxScore), conv, t0, t1, t0, conv, t0,
		groupClamp, gsum, value, analytics.Quote(m.Name), t0, strings.Join(names, ", "))
	return b.String()
}

// clampExpr is rules' clamp in SQL: the floor wins over the cap.
func clampExpr(x string, lo, hi *rules.Points) string {
	if hi != nil {
		x = "least(" + x + ", " + lit(*hi) + ")"
	}
	if lo != nil {
		x = "greatest(" + x + ", " + lit(*lo) + ")"
	}
	return "toInt64(" + x + ")"
}

// lit is an Int64 literal: bare literals are UInt64 when positive, and
// 18.16 finds no common type for UInt64 and Int64 in multiIf or least.
func lit(v int64) string { return "toInt64(" + i64(v) + ")" }

func i64(v int64) string { return strconv.FormatInt(v, 10) }
