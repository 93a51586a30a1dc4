package enrollment

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/<name>, rewriting it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestLoadSampleConfig(t *testing.T) {
	cfg, err := LoadConfig("../testdata/bridge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sink != SinkHubSpot || cfg.HubSpot.RequestsPer10s != 190 {
		t.Errorf("sink %q rps %d", cfg.Sink, cfg.HubSpot.RequestsPer10s)
	}
	ben, ok := cfg.Sender("u-2")
	if !ok || ben.DailyEnrollments != DefaultDailyEnrollments || ben.DailySends != DefaultDailySends {
		t.Errorf("defaults not applied to u-2: %+v", ben)
	}
	for _, id := range []string{"1001", "1002", "2001"} {
		if !cfg.Suppress.contacts[id] {
			t.Errorf("suppressed.txt: %s missing (got %v)", id, cfg.Suppress.contacts)
		}
	}
	if cfg.Suppress.contacts["#"] || len(cfg.Suppress.contacts) != 3 {
		t.Errorf("comments leaked into the list: %v", cfg.Suppress.contacts)
	}
	if got := cfg.ConflictingWorkflows("9001"); strings.Join(got, ",") != "501" {
		t.Errorf("tag conflict 9001: %v", got)
	}
	if got := cfg.ConflictingSequences("502"); strings.Join(got, ",") != "9002" {
		t.Errorf("pair conflict 502: %v", got)
	}
	if cfg.Hold.maxAge.Hours() != 168 || cfg.BusinessHours.defaultLoc.String() != "America/New_York" {
		t.Errorf("hold %v tz %v", cfg.Hold.maxAge, cfg.BusinessHours.defaultLoc)
	}
	for i, r := range cfg.Routes {
		if r.When != "" && r.program == nil {
			t.Errorf("route %d not compiled", i)
		}
	}
}

// Every problem of a file is reported at once, with its line.
func TestLoadConfigProblems(t *testing.T) {
	for _, name := range []string{"unknown_keys", "invalid", "webhook_missing", "not_yaml", "type_errors", "huge_when", "empty", "hubspot_routes", "policy"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", "config", name+".yaml")
			_, err := LoadConfig(path)
			if err == nil {
				t.Fatal("accepted")
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("not a ConfigError: %v", err)
			}
			for _, p := range ce.Problems {
				if !strings.HasPrefix(p, path+":") {
					t.Errorf("problem without file:line: %q", p)
				}
			}
			golden(t, filepath.Join("config", name+".golden"), strings.Join(ce.Problems, "\n")+"\n")
		})
	}
}

func TestConfigMinimal(t *testing.T) {
	cfg, err := ParseConfig("mem.yaml", []byte("sink: dry-run\nroutes: [{model: m, sequence_id: '1'}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HubSpot.BaseURL != DefaultHubSpotBaseURL || cfg.Hold.retryAfter != DefaultRetryHeldAfter {
		t.Errorf("defaults: %+v %+v", cfg.HubSpot, cfg.Hold)
	}
}

// Durations are the dialect's, as in rule files: days and weeks work.
func TestConfigDurations(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "1w": 7 * 24 * time.Hour, "168h": 168 * time.Hour, "90s": 90 * time.Second} {
		cfg, err := ParseConfig("mem.yaml", []byte("sink: dry-run\nroutes: [{model: m, sequence_id: '1'}]\nhold: {max_age: "+in+", retry_after: "+in+"}\n"))
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if cfg.Hold.maxAge != want || cfg.Hold.retryAfter != want {
			t.Errorf("%s: max_age %v retry_after %v, want %v", in, cfg.Hold.maxAge, cfg.Hold.retryAfter, want)
		}
		if d, err := rules.ParseDuration(in); err != nil || d != want {
			t.Errorf("%s: rules read %v %v", in, d, err)
		}
	}
}

// A route's `when` is held to the policy of a scoring rule's `when`: what
// one accepts the other accepts, what one rejects the other rejects.
func TestRouteAndRuleShareExpressionPolicy(t *testing.T) {
	for _, tc := range []struct {
		when string
		ok   bool
	}{
		{`contact.vip`, true},
		{`contact.vip ?? false`, true},
		{`contact.a > 1 ? contact.b : contact.c == 2`, true},
		{`contact.country + "" == "US"`, true},
		{`contact.n in 1..100`, true},
		{`contact.minutes + 1`, false},
		{`"x" + contact.name`, false},
		{`now() > 0`, false},
		{`repeat("x", 10) == ""`, false},
		{`toJSON(contact) != ""`, false},
		{`len(reduce(1..40, #acc + #acc, "ab")) > 0`, false},
		{`contact.n in 1..1000000`, false},
		{strings.Repeat("contact.a == 1 || ", 300) + "true", false},
	} {
		_, rerr := rules.Parse("r.yaml", []byte("model: m\ngroups:\n  - name: g\n    when: '"+tc.when+"'\n    points: 1\n"))
		_, cerr := ParseConfig("b.yaml", []byte("sink: dry-run\nroutes: [{model: m, sequence_id: '1', when: '"+tc.when+"'}]\n"))
		if (rerr == nil) != tc.ok || (cerr == nil) != tc.ok {
			t.Errorf("%.60s: rule %v, route %v; want accepted=%v", tc.when, rerr, cerr, tc.ok)
		}
	}
}

// A route whose condition grows with the crossing meets the same bound at
// run time: no route for that crossing, the reason in the decision.
func TestRouteWhenBoundedAtRunTime(t *testing.T) {
	cfg, err := ParseConfig("b.yaml", []byte("sink: dry-run\nroutes:\n  - {model: m, workflow_id: '1', when: 'len(reduce(1..40, #acc + #acc, contact.s)) > 0'}\n  - {model: m, workflow_id: '2'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := events.Crossing{ContactID: "c", Model: "m", Contact: map[string]any{"s": "ab"}}
	for i := 0; i < 2; i++ {
		a := &Attempt{Crossing: c, Now: t0}
		d, err := RouteStage{Config: cfg}.Exec(context.Background(), a)
		if err != nil || d != nil || a.Route == nil || a.Route.WorkflowID != "2" {
			t.Fatalf("decision %+v err %v route %+v: want the second route", d, err, a.Route)
		}
	}
	cfg.Routes = cfg.Routes[:1]
	a := &Attempt{Crossing: c, Now: t0}
	d, err := RouteStage{Config: cfg}.Exec(context.Background(), a)
	if err != nil || d == nil || !strings.Contains(d.Detail, "limit exceeded") {
		t.Fatalf("decision %+v err %v: want no_route naming the bound", d, err)
	}
}
