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
	gen, errOut, code := scorer(t, "", "generate", "--contacts", "1500", "--days", "40", "--seed", "7")
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
		out, errOut, code := scorer(t, "", append(args, "--format", format)...)
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
	out, errOut, code := scorer(t, "", append(args, "--format", "csv")...)
	if code == 0 || !strings.Contains(errOut, "--format") || out != "" {
		t.Errorf("--format csv: exit %d, stdout %q, stderr %s", code, out, errOut)
	}
}
