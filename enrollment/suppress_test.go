package enrollment

import (
	"context"
	"testing"

	"github.com/scorebridge/scorebridge/events"
)

func TestSuppressStage(t *testing.T) {
	cfg := testCfg(t)
	tests := []struct {
		name string
		c    events.Crossing
		want string
	}{
		{"lead passes", crossing("a"), "pass"},
		{"customer", crossing("b", set("lifecycle_stage", "customer")), "suppressed:lifecycle_stage"},
		{"stage case-insensitive both ways", crossing("c", set("lifecycle_stage", "PARTNER")), "suppressed:lifecycle_stage"},
		{"competitor domain", crossing("d", set("email", "x@Competitor.com")), "suppressed:email_domain"},
		{"competitor subdomain", crossing("e", set("email", "x@eu.competitor.com")), "suppressed:email_domain"},
		{"lookalike domain passes", crossing("f", set("email", "x@notcompetitor.com")), "pass"},
		{"contact list", crossing("suppressed"), "suppressed:contact_list"},
		{"company list", crossing("g", func(c *events.Crossing) { c.CompanyID = "c-bad" }), "suppressed:company_list"},
		{"workflow targets are suppressed too", crossing("h", nurture, set("lifecycle_stage", "customer")), "suppressed:lifecycle_stage"},
		{"no email passes", crossing("i", set("email", nil)), "pass"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Suppression does not depend on the route's condition.
			a := &Attempt{Crossing: tt.c, Now: t0, Route: &cfg.Routes[0]}
			d, err := SuppressStage{Config: cfg}.Exec(context.Background(), a)
			if err != nil {
				t.Fatal(err)
			}
			if got := outcome(d); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}
