package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/analytics/analyticstest"
)

// edges are hand-made contacts at the boundaries of the semantics,
// appended to a generated history: a conversion exactly at T0 (left
// out), exactly at T0 + window (converted) and a second later (not),
// a duplicate id whose second copy is a conversion (ignored), and a
// contact whose first event is after T0 (left out), events at the very
// edge of a group's window.
func edges(t0 time.Time, window time.Duration) string {
	line := func(id, contact, typ string, at time.Time) string {
		return `{"id":"` + id + `","type":"` + typ + `","contact_id":"` + contact + `","occurred_at":"` + at.Format(time.RFC3339Nano) + `","properties":{"path":"/pricing"}}` + "\n"
	}
	d := 24 * time.Hour
	return line("x1", "edge-1", "page_viewed", t0.Add(-d)) + line("x2", "edge-1", "meeting_booked", t0) +
		line("x3", "edge-2", "page_viewed", t0.Add(-d)) + line("x4", "edge-2", "meeting_booked", t0.Add(window)) +
		line("x5", "edge-3", "page_viewed", t0.Add(-d)) + line("x6", "edge-3", "meeting_booked", t0.Add(window+time.Second)) +
		line("x7", "edge-4", "page_viewed", t0) + line("x7", "edge-4", "meeting_booked", t0.Add(d)) +
		line("x8", "edge-5", "page_viewed", t0.Add(time.Second)) + line("x9", "edge-5", "meeting_booked", t0.Add(d)) +
		// engagement's pricing_page has a 30d window: only the second counts.
		line("y1", "edge-6", "page_viewed", t0.Add(-30*d)) + line("y2", "edge-6", "page_viewed", t0.Add(-30*d+time.Microsecond))
}

// Calibration over ClickHouse equals calibration over the file the
// history was imported from: windows, decay, first-match groups, caps and
// the total clamp rebuilt from the ledger at several T0.
func TestCalibrationFromClickHouse(t *testing.T) {
	dsn := analyticstest.DSN(t, "sb_calibration")
	gen, errOut, code := runScorer(t, "", "generate", "--contacts", "1500", "--days", "40", "--seed", "7")
	if code != 0 {
		t.Fatal(errOut)
	}
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	t0s := []time.Time{start.Add(12 * 24 * time.Hour), start.Add(25*24*time.Hour + 7*time.Hour + 30*time.Minute)}
	history := gen
	for _, t0 := range t0s {
		history += edges(t0, 5*24*time.Hour)
	}
	dir := t.TempDir()
	rulesDir := filepath.Join(dir, "rules")
	os.Mkdir(rulesDir, 0o755)
	for _, name := range []string{"engagement.yaml", "intent.yaml"} {
		src, err := os.ReadFile(filepath.Join("../../testdata/rules", name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(rulesDir, name), src, 0o644)
	}
	// First matches that leave their window or decay, a total floor.
	os.WriteFile(filepath.Join(rulesDir, "first.yaml"), []byte(`model: first
threshold: 5
min_score: 1
decay: {half_life: 3d}
groups:
  - {name: first_click, when: 'event.type == "email_clicked"', points: 9, repeatable: false, window: 4d}
  - {name: first_form, when: 'event.type == "form_submitted"', points: 7, repeatable: false}
  - {name: opens, when: 'event.type == "email_opened"', points: 1, max: 3}
`), 0o644)
	path := filepath.Join(dir, "history.jsonl")
	if err := os.WriteFile(path, []byte(history), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runScorer(t, "", "import", "--rules", rulesDir, "--events", path, "--clickhouse", dsn); code != 0 {
		t.Fatalf("import: %s", errOut)
	}
	for _, t0 := range t0s {
		for _, c := range []struct{ conv, bands string }{{"meeting_booked", "7"}, {"form_submitted", "7"}, {"meeting_booked", "100000"}} {
			// With more bands than contacts, each score is its own band:
			// the whole score histogram is compared.
			conv := c.conv
			args := []string{"--rules", rulesDir, "--as-of", t0.Format(time.RFC3339), "--conversion", conv, "--window", "5d", "--bands", c.bands, "--format", "json"}
			fromFile, errOut, code1 := runScorer(t, "", append([]string{"calibrate", "--events", path}, args...)...)
			if code1 != 0 {
				t.Fatalf("calibrate: %s", errOut)
			}
			fromCH, errOut, code2 := runScorer(t, "", append([]string{"report", "calibration", "--clickhouse", dsn}, args...)...)
			if code2 != 0 {
				t.Fatalf("report calibration: %s", errOut)
			}
			var rep struct {
				Models []struct{ Contacts, Converted int }
			}
			if err := json.Unmarshal([]byte(fromFile), &rep); err != nil || len(rep.Models) != 3 || rep.Models[0].Converted == 0 {
				t.Fatalf("calibrate output %v: %s", err, fromFile)
			}
			if fromCH != fromFile {
				t.Errorf("T0 %s, %s: ClickHouse differs from the file:\n%s", t0, conv, firstDiff(fromCH, fromFile))
			}
		}
	}
	// --sql shows the query, --model narrows.
	out, errOut, code := runScorer(t, "", "report", "calibration", "--clickhouse", dsn, "--rules", rulesDir, "--model", "intent",
		"--as-of", t0s[0].Format(time.RFC3339), "--conversion", "meeting_booked", "--sql")
	if code != 0 || !strings.Contains(out, "FROM score_ledger FINAL") || !strings.Contains(out, "exp2(") || strings.Contains(out, "engagement") {
		t.Errorf("--sql --model intent (exit %d, %s):\n%s", code, errOut, out)
	}
}
