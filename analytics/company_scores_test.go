package analytics

import (
	"context"
	"testing"
	"time"
)

// Company score changes land in company_scores; a replayed change
// collapses onto its first row; the latest received row is the score.
func TestCompanyScores(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 3, 15, 0, 0, 0, time.UTC)
	rows := []CompanyScoreRow{
		{CompanyID: "acme", Model: "acct", Score: 50e6, Rollup: 50e6, Members: 2, ContactID: "alice", EventID: "a1", ChangedAt: at, RuleVersion: "v1"},
		{CompanyID: "acme", Model: "acct", Score: 85e6, Rollup: 50e6, Members: 3, Coverage: []string{"champion", "economic_buyer"}, ContactID: "bob", EventID: "b1", ChangedAt: at, RuleVersion: "v1"},
		{CompanyID: "globex", Model: "acct", Score: 10e6, ContactID: "erin", EventID: "g1", ChangedAt: at, RuleVersion: "v1"},
	}
	if err := s.AddCompanyScores(ctx, rows...); err != nil {
		t.Fatal(err)
	}
	if err := s.AddCompanyScores(ctx, rows[1]); err != nil { // a replay
		t.Fatal(err)
	}
	if n := countRows(t, s, "SELECT count() FROM company_scores FINAL"); n != 3 {
		t.Errorf("%d rows after a replay, want 3", n)
	}
	if n := countRows(t, s, "SELECT count() FROM company_scores FINAL WHERE has(coverage, 'champion') AND members = 3"); n != 1 {
		t.Errorf("coverage and members not stored: %d", n)
	}
	score, ok, err := s.CompanyScore(ctx, "acme", "acct")
	if err != nil || !ok || score != 85e6 {
		t.Errorf("acme = %d %v %v, want 85e6", score, ok, err)
	}
	if _, ok, err := s.CompanyScore(ctx, "nosuch", "acct"); ok || err != nil {
		t.Errorf("unknown company: %v %v", ok, err)
	}
}
