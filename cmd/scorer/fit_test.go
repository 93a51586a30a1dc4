package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fitHistory is a generated history with a malformed line at its end.
func fitHistory(t *testing.T) string {
	t.Helper()
	gen, errOut, code := runScorer(t, "", "generate", "--contacts", "1500", "--days", "40", "--seed", "7")
	if code != 0 {
		t.Fatal(errOut)
	}
	path := filepath.Join(t.TempDir(), "history.jsonl")
	if err := os.WriteFile(path, []byte(gen+"{not json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A malformed line fails `scorer fit` (exit 1) whatever the output format,
// as it fails calibrate; an unknown format is refused before any work.
func TestFitBadLinesAndFormat(t *testing.T) {
	path := fitHistory(t)
	args := []string{"fit", "--rules", "../../testdata/rules", "--events", path, "--model", "engagement",
		"--as-of", "2026-10-26", "--conversion", "meeting_booked", "--window", "5d", "--min-conversions", "5"}
	for _, format := range []string{"table", "json"} {
		out, errOut, code := runScorer(t, "", append(args, "--format", format)...)
		if code != 1 || !strings.Contains(errOut, "line ") {
			t.Errorf("--format %s with a malformed line: exit %d, want 1\nstderr: %s", format, code, errOut)
		}
		if format == "json" {
			var res struct{ Groups []any }
			if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Groups) == 0 {
				t.Errorf("--format json: %v\n%s", err, out)
			}
		}
	}
	out, errOut, code := runScorer(t, "", append(args, "--format", "csv")...)
	if code == 0 || !strings.Contains(errOut, "--format") || out != "" {
		t.Errorf("--format csv: exit %d, stdout %q, stderr %s", code, out, errOut)
	}
}

// --out writes nothing when the suggested points rank the holdout worse
// than the current ones (here 0.81 -> 0.74 on a 5-day window), and says
// so; --force writes them anyway, and the file loads.
func TestFitOutRefusesAWorseFit(t *testing.T) {
	gen, errOut, code := runScorer(t, "", "generate", "--contacts", "1500", "--days", "40", "--seed", "7")
	if code != 0 {
		t.Fatal(errOut)
	}
	history := filepath.Join(t.TempDir(), "history.jsonl")
	if err := os.WriteFile(history, []byte(gen), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args := []string{"fit", "--rules", "../../testdata/rules", "--events", history, "--model", "engagement",
		"--as-of", "2026-10-26", "--conversion", "meeting_booked", "--window", "5d", "--min-conversions", "5", "--out", dir}
	_, errOut, code = runScorer(t, "", args...)
	if code == 0 || !strings.Contains(errOut, "no file written: the suggested points do not raise the holdout AUC") {
		t.Fatalf("a worse fit with --out: exit %d, stderr: %s", code, errOut)
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Fatalf("a worse fit wrote %d files", len(files))
	}
	_, errOut, code = runScorer(t, "", append(args, "--force")...)
	if code != 0 {
		t.Fatalf("--force: exit %d, stderr: %s", code, errOut)
	}
	if files, _ := os.ReadDir(dir); len(files) != 1 {
		t.Fatalf("--force wrote %d files, want 1", len(files))
	}
}
