package analytics

import (
	"context"
	"fmt"
	"time"
)

const companyScoresDDL = `CREATE TABLE IF NOT EXISTS company_scores (
    company_id   String,
    model        LC(String),
    score        Int64,
    rollup       Int64,
    members      UInt32,
    coverage     Array(String),
    contact_id   String,
    event_id     String,
    changed_at   DateTime,
    changed_us   Int64,
    rule_version LC(String),
    ingested_at  DateTime,
    version      UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(changed_at)
ORDER BY (company_id, model, contact_id, event_id)`

// CompanyScoreRow is one change of a company's score in a company model:
// the score after it, the rollup and the counted members and roles, and
// the contact change (contact, event) that caused it. Scores are in
// micro-points. The latest row per (company, model) by changed_us is the
// company's current score; analysts join company_id to deals.
type CompanyScoreRow struct {
	CompanyID   string
	Model       string
	Score       int64
	Rollup      int64
	Members     uint32 // counted members
	Coverage    []string
	ContactID   string
	EventID     string
	ChangedAt   time.Time
	RuleVersion string
	ingestedAt  time.Time // stamped by the Writer
}

var companyScoreTable = tableDef[CompanyScoreRow]{
	name: "company_scores",
	cols: cat(
		one(strCol("company_id", func(r *CompanyScoreRow) string { return r.CompanyID })),
		one(strCol("model", func(r *CompanyScoreRow) string { return r.Model })),
		one(i64Col("score", func(r *CompanyScoreRow) int64 { return r.Score })),
		one(i64Col("rollup", func(r *CompanyScoreRow) int64 { return r.Rollup })),
		one(colDef[CompanyScoreRow]{"members", func(rows []CompanyScoreRow, into any) any {
			out := reuse[uint32](into, len(rows))
			for i := range rows {
				out[i] = rows[i].Members
			}
			return out
		}}),
		one(colDef[CompanyScoreRow]{"coverage", func(rows []CompanyScoreRow, into any) any {
			out := reuse[[]string](into, len(rows))
			for i := range rows {
				if out[i] = rows[i].Coverage; out[i] == nil {
					out[i] = []string{}
				}
			}
			return out
		}}),
		one(strCol("contact_id", func(r *CompanyScoreRow) string { return r.ContactID })),
		one(strCol("event_id", func(r *CompanyScoreRow) string { return r.EventID })),
		timeCols("changed_at", "changed_us", func(r *CompanyScoreRow) time.Time { return r.ChangedAt }),
		one(strCol("rule_version", func(r *CompanyScoreRow) string { return r.RuleVersion })),
		versionCols(func(r *CompanyScoreRow) time.Time { return r.ingestedAt }),
	),
	// The writer stamps rows in the order added, strictly increasing:
	// the latest row by version is a company's latest score.
	stamp: func(r *CompanyScoreRow, t time.Time) { r.ingestedAt = t },
}

// AddCompanyScores inserts rows at once (the company aggregator writes a
// batch's rows before it saves its state and commits).
func (s *Store) AddCompanyScores(ctx context.Context, rows ...CompanyScoreRow) error {
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	company, model, contact, event, version := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	score, rollup, changedUS := make([]int64, n), make([]int64, n), make([]int64, n)
	members := make([]uint32, n)
	coverage := make([][]string, n)
	changed, ingested := make([]time.Time, n), make([]time.Time, n)
	vers := make([]uint64, n)
	now := time.Now().UTC()
	for i, r := range rows {
		company[i], model[i], contact[i], event[i], version[i] = r.CompanyID, r.Model, r.ContactID, r.EventID, r.RuleVersion
		score[i], rollup[i], changedUS[i] = r.Score, r.Rollup, r.ChangedAt.UnixMicro()
		members[i], coverage[i] = r.Members, r.Coverage
		if coverage[i] == nil {
			coverage[i] = []string{}
		}
		changed[i], ingested[i] = r.ChangedAt.UTC(), now
		vers[i] = uint64(now.UnixNano()) + uint64(i) // the order received
	}
	err := s.db.insert(ctx, "company_scores",
		[]string{"company_id", "model", "score", "rollup", "members", "coverage", "contact_id", "event_id", "changed_at", "changed_us", "rule_version", "ingested_at", "version"},
		[]any{company, model, score, rollup, members, coverage, contact, event, changed, changedUS, version, ingested, vers})
	if err != nil {
		return fmt.Errorf("insert company_scores: %w", err)
	}
	return nil
}

// CompanyScore is a company's latest recorded score in a company model
// (micro-points); ok is false when none is recorded.
func (s *Store) CompanyScore(ctx context.Context, companyID, model string) (score int64, ok bool, err error) {
	sql := `SELECT argMax(score, version) FROM company_scores FINAL
WHERE company_id = ` + quote(companyID) + ` AND model = ` + quote(model) + `
GROUP BY company_id`
	err = each(ctx, s.db, sql, func(r rows) error {
		ok = true
		return r.Scan(&score)
	})
	if err != nil {
		return 0, false, fmt.Errorf("company score of %s in %s: %w", companyID, model, err)
	}
	return score, ok, nil
}

// TopCompany is a company's latest score in a company model, with its
// counted members and the roles they cover.
type TopCompany struct {
	CompanyID, Model string
	Score            int64 // micro-points
	Members          uint32
	Coverage         []string
}

// TopCompanies lists the n highest latest scores by company and company
// model, highest first (ties by company id).
func (s *Store) TopCompanies(ctx context.Context, n int) ([]TopCompany, error) {
	sql := fmt.Sprintf(`SELECT company_id, model, argMax(score, version) AS s, argMax(members, version) AS m,
    argMax(coverage, version) AS cov
FROM company_scores FINAL GROUP BY company_id, model ORDER BY s DESC, company_id LIMIT %d`, n)
	var out []TopCompany
	err := each(ctx, s.db, sql, func(r rows) error {
		var c TopCompany
		if err := r.Scan(&c.CompanyID, &c.Model, &c.Score, &c.Members, &c.Coverage); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("top companies: %w", err)
	}
	return out, nil
}

// CompanyDecisions counts the crossings of company models (models with a
// row in company_scores) the bridge decided, by their latest decision, and
// how many of those enrolled a member.
func (s *Store) CompanyDecisions(ctx context.Context) (decided, enrolled uint64, err error) {
	const sql = `SELECT count(), countIf(o = 'enrolled') FROM (
    SELECT crossing_id, argMax(outcome, decided_us) AS o FROM decisions
    WHERE model IN (SELECT DISTINCT model FROM company_scores) GROUP BY crossing_id)`
	err = each(ctx, s.db, sql, func(r rows) error { return r.Scan(&decided, &enrolled) })
	if err != nil {
		return 0, 0, fmt.Errorf("company decisions: %w", err)
	}
	return decided, enrolled, nil
}
