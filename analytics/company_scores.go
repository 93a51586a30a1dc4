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
