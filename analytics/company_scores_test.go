package analytics

import (
	"context"
	"strings"
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

	top, err := s.TopCompanies(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(top) != 2 || top[0].CompanyID != "acme" || top[0].Score != 85e6 || top[0].Members != 3 ||
		strings.Join(top[0].Coverage, ",") != "champion,economic_buyer" || top[1].CompanyID != "globex" {
		t.Errorf("top companies %+v, want acme (85, 3 members, champion and economic_buyer) then globex", top)
	}
	if top, err := s.TopCompanies(ctx, 1); err != nil || len(top) != 1 {
		t.Errorf("top 1: %+v %v", top, err)
	}

	// Company decisions: the latest decision per crossing of a company
	// model counts; a contact model's decisions do not.
	w := s.NewWriter(WriterOptions{})
	must(t, w.AddDecisions(
		Decision{DecisionID: "d1", CrossingID: "k1", CompanyID: "acme", Model: "acct", Outcome: "held", DecidedAt: at},
		Decision{DecisionID: "d2", CrossingID: "k1", CompanyID: "acme", ContactID: "bob", Model: "acct", Outcome: "enrolled", DecidedAt: at.Add(time.Minute)},
		Decision{DecisionID: "d3", CrossingID: "k2", CompanyID: "globex", Model: "acct", Outcome: "suppressed", DecidedAt: at},
		Decision{DecisionID: "d4", CrossingID: "x1", ContactID: "alice", Model: "engagement", Outcome: "enrolled", DecidedAt: at},
	))
	must(t, w.Close(ctx))
	decided, enrolled, err := s.CompanyDecisions(ctx)
	if err != nil || decided != 2 || enrolled != 1 {
		t.Errorf("company decisions: %d decided, %d enrolled, %v; want 2 and 1", decided, enrolled, err)
	}
}
