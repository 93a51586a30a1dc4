package enrollment

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	for _, name := range []string{"unknown_keys", "invalid", "webhook_missing", "not_yaml", "type_errors", "huge_when", "empty", "hubspot_routes"} {
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
