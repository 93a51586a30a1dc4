package enrollment

import (
	"context"
	"strings"
	"testing"

	"github.com/scorebridge/scorebridge/events"
)

func TestRouteStage(t *testing.T) {
	cfg := testCfg(t)
	tests := []struct {
		name       string
		c          events.Crossing
		want       string // outcome, or "pass"
		wantTarget string
		wantSender string
		detail     string
	}{
		{"sales lead to sequence", crossing("a"), "pass", "sequence:9001", "u-1", ""},
		{"nurture threshold to first workflow", crossing("b", nurture), "pass", "workflow:501", "", ""},
		{"when false", crossing("c", set("lifecycle_stage", "opportunity")), "no_route", "", "", ""},
		{"other model", crossing("d", func(c *events.Crossing) { c.Model = "churn" }), "no_route", "", "", ""},
		{"threshold without route", crossing("e", func(c *events.Crossing) { c.ThresholdName = "vip" }), "no_route", "", "", ""},
		{"route without threshold matches any", crossing("f", func(c *events.Crossing) { c.Model = "fit"; c.ThresholdName = "default"; c.Score = 85 }), "pass", "sequence:9002", "u-1", ""},
		{"crossing fields in when", crossing("g", func(c *events.Crossing) { c.Model = "fit"; c.Score = 79 }), "no_route", "", "", ""},
		{"no owner", crossing("h", func(c *events.Crossing) { delete(c.Contact, "owner_id") }), "no_sender", "sequence:9001", "", "no owner_id"},
		{"unknown owner", crossing("i", set("owner_id", "u-404")), "no_sender", "sequence:9001", "", `"u-404"`},
		{"numeric owner id", crossing("j", set("owner_id", 2)), "no_sender", "", "", `"2"`},
		{"JSON number owner id keeps its digits", crossing("j2", set("owner_id", float64(12345678))), "no_sender", "", "", `"12345678"`},
		{"workflow needs no sender", crossing("k", nurture, set("owner_id", "u-404")), "pass", "workflow:501", "", ""},
		{"nil contact", crossing("l", func(c *events.Crossing) { c.Contact = nil }), "no_route", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Attempt{Crossing: tt.c, Now: t0}
			d, err := RouteStage{Config: cfg}.Exec(context.Background(), a)
			if err != nil {
				t.Fatal(err)
			}
			if got := outcome(d); got != tt.want {
				t.Fatalf("outcome %s, want %s (%+v)", got, tt.want, d)
			}
			if tt.wantTarget != "" {
				got := string(a.Route.Target().Kind) + ":" + a.Route.Target().ID
				if got != tt.wantTarget {
					t.Errorf("target %s, want %s", got, tt.wantTarget)
				}
			}
			if tt.wantSender != "" && (a.Sender == nil || a.Sender.OwnerID != tt.wantSender) {
				t.Errorf("sender %+v, want %s", a.Sender, tt.wantSender)
			}
			if d != nil && !strings.Contains(d.Detail, tt.detail) {
				t.Errorf("detail %q lacks %q", d.Detail, tt.detail)
			}
			if d != nil && (d.CrossingID != tt.c.CrossingID || d.ContactID != tt.c.ContactID || !d.DecidedAt.Equal(t0)) {
				t.Errorf("decision context not filled: %+v", d)
			}
		})
	}
}

// A `when` that fails at run time does not match, and says why.
func TestRouteWhenRuntimeError(t *testing.T) {
	cfg, err := ParseConfig("t.yaml", []byte(`
sink: dry-run
routes:
  - {model: m, when: 'contact.visits > 3', sequence_id: "1"}
`))
	if err != nil {
		t.Fatal(err)
	}
	a := &Attempt{Crossing: events.Crossing{CrossingID: "x", ContactID: "k", Model: "m", Contact: map[string]any{"visits": "many"}}, Now: t0}
	d, err := RouteStage{Config: cfg}.Exec(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	if outcome(d) != "no_route" || !strings.Contains(d.Detail, "routes[0]") {
		t.Fatalf("got %+v", d)
	}
}
