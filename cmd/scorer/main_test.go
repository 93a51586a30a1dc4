package main

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/scorebridge/scorebridge/analytics/analyticstest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func runScorer(t *testing.T, in string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	stdin = strings.NewReader(in)
	defer func() { stdin = os.Stdin }()
	code = run(args, &o, &e)
	return o.String(), e.String(), code
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("..", "..", "testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/scorer -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test ./cmd/scorer -update after checking):\n%s", name, firstDiff(got, string(want)))
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return "line " + itoa(i+1) + ":\n got  " + al[i] + "\n want " + bl[i]
		}
	}
	return "lengths differ"
}

func itoa(i int) string { return strconv.Itoa(i) }

const rulesDir = "../../testdata/rules"
const sample = "../../testdata/events/sample.jsonl"

func TestBacktestGolden(t *testing.T) {
	out, errOut, code := runScorer(t, "", "backtest", "--rules", rulesDir, "--events", sample)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "backtest.jsonl", out)
	if !strings.Contains(errOut, "duplicates ignored") {
		t.Errorf("no summary on stderr: %q", errOut)
	}
	asOf, _, _ := runScorer(t, "", "backtest", "--rules", rulesDir, "--events", sample, "--as-of", "2026-10-20T00:00:00Z")
	golden(t, "backtest-asof.jsonl", asOf)
}

// The same events in any order, from stdin, give the same lines: scores
// through the set semantics, crossings through the in-order second pass.
func TestBacktestOrderIndependent(t *testing.T) {
	data, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	want, _, _ := runScorer(t, "", "backtest", "--rules", rulesDir, "--events", sample)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	// Duplicates keep their first-in-stream position: move only the
	// first occurrences around, keeping each id's first copy first.
	r := rand.New(rand.NewPCG(3, 4))
	r.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	got, errOut, code := runScorer(t, strings.Join(lines, "\n"), "backtest", "--rules", rulesDir, "--events", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got != want {
		t.Errorf("shuffled input changed the backtest:\n%s", firstDiff(got, want))
	}
	if !strings.Contains(errOut, "replayed in time order") {
		t.Errorf("the second pass did not run: %s", errOut)
	}
}

func TestBacktestBadLines(t *testing.T) {
	out, errOut, code := runScorer(t, "", "backtest", "--rules", rulesDir, "--events", "../../testdata/events/bad.jsonl")
	if code != 1 {
		t.Errorf("exit %d, want 1 when a line is bad", code)
	}
	for _, want := range []string{
		`line 2: event "b2": occurred_at "yesterday" is not an RFC 3339 timestamp`,
		"line 3: malformed JSON",
		"line 5: missing id",
		"line 6: nested deeper than 32 levels",
		"2 expression errors", "intent/long_call 1",
		"engagement/call_started 1",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	// The good lines are all scored.
	if !strings.Contains(out, `{"contact_id":"c-1","model":"engagement","score":10,`) ||
		!strings.Contains(out, `{"contact_id":"c-2","model":"engagement","score":2,`) {
		t.Errorf("good lines lost:\n%s", out)
	}
}

func TestExplainGolden(t *testing.T) {
	out, errOut, code := runScorer(t, "", "explain", "--rules", rulesDir, "--events", sample, "--contact", "c-000003")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "explain-c-000003.txt", out)
	_, errOut, code = runScorer(t, "", "explain", "--rules", rulesDir, "--events", sample, "--contact", "nobody")
	if code != 1 || !strings.Contains(errOut, `no events for contact "nobody"`) {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

func TestRulesCheck(t *testing.T) {
	out, _, code := runScorer(t, "", "rules", "check", rulesDir)
	if code != 0 || !strings.Contains(out, "ok: 2 models") {
		t.Errorf("exit %d: %s", code, out)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("model: m\ngroups:\n  - {name: g, when: 'event.type == 1', points: x}\n  - {name: g, when: 'true', points: 1, windw: 1d}\n"), 0o644)
	_, errOut, code := runScorer(t, "", "rules", "check", dir)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{"bad.yaml:3: group \"g\": when: invalid operation", "bad.yaml:3: group \"g\": points: unknown name x",
		"bad.yaml:4: group \"g\": unknown key \"windw\"", "bad.yaml:4: group \"g\": duplicate group name", "4 problems"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	_, errOut, code := runScorer(t, "", "frobnicate")
	if code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) || !strings.Contains(errOut, "backtest") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

// Doubling the meeting points moves exactly the contacts with a counted
// meeting, and makes some of them cross.
func TestRescore(t *testing.T) {
	dir := t.TempDir()
	src, _ := os.ReadFile(rulesDir + "/engagement.yaml")
	changed := strings.Replace(string(src), "points: 10\n    max: 20", "points: 20\n    max: 40", 1)
	if changed == string(src) {
		t.Fatal("the sample rules changed: update this test")
	}
	os.WriteFile(filepath.Join(dir, "engagement.yaml"), []byte(changed), 0o644)
	data, _ := os.ReadFile(rulesDir + "/intent.yaml")
	os.WriteFile(filepath.Join(dir, "intent.yaml"), data, 0o644)

	out, errOut, code := runScorer(t, "", "rescore", "--current", rulesDir, "--rules", dir, "--events", sample, "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// Which contacts should move: those whose backtest counts a meeting.
	bt, _, _ := runScorer(t, "", "backtest", "--rules", rulesDir, "--events", sample)
	withMeeting := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(bt), "\n") {
		if strings.Contains(l, `"model":"engagement"`) && strings.Contains(l, `"meeting_booked":`) {
			withMeeting[l[strings.Index(l, `"contact_id":"`)+14:][:8]] = true
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	moved, newly := map[string]bool{}, 0
	for _, l := range lines[:len(lines)-1] {
		if !strings.Contains(l, `"model":"engagement"`) {
			t.Errorf("intent did not change but: %s", l)
		}
		id := l[strings.Index(l, `"contact_id":"`)+14:][:8]
		moved[id] = true
		if strings.Contains(l, `"newly_crosses":["default"]`) {
			newly++
		}
		if strings.Contains(l, "no_longer") {
			t.Errorf("more points cannot stop a crossing: %s", l)
		}
	}
	for id := range withMeeting {
		if !moved[id] {
			// A contact at max_score 100 can have a meeting and not move.
			if !strings.Contains(bt, `"contact_id":"`+id+`","model":"engagement","score":100`) {
				t.Errorf("%s counts a meeting but did not move", id)
			}
		}
	}
	for id := range moved {
		if !withMeeting[id] {
			t.Errorf("%s moved without a meeting", id)
		}
	}
	if len(moved) == 0 || newly == 0 {
		t.Fatalf("moved %d, newly crossing %d: the test checks nothing", len(moved), newly)
	}
	if !strings.Contains(lines[len(lines)-1], fmt.Sprintf(`"newly_crossing":%d`, newly)) {
		t.Errorf("summary %s, newly %d", lines[len(lines)-1], newly)
	}
	table, _, _ := runScorer(t, "", "rescore", "--current", rulesDir, "--rules", dir, "--events", sample, "--top", "3")
	if !strings.Contains(table, "scores move)") || !strings.Contains(table, "+default") {
		t.Errorf("table:\n%s", table)
	}
}

// The history stored in ClickHouse replays exactly as the file it was
// imported from.
func TestRescoreFromClickHouse(t *testing.T) {
	dsn := analyticstest.DSN(t, "sb_rescore")
	if _, errOut, code := runScorer(t, "", "import", "--rules", rulesDir, "--events", sample, "--clickhouse", dsn); code != 0 {
		t.Fatalf("import: %s", errOut)
	}
	dir := t.TempDir()
	src, _ := os.ReadFile(rulesDir + "/engagement.yaml")
	os.WriteFile(filepath.Join(dir, "engagement.yaml"), []byte(strings.Replace(string(src), "points: 6", "points: 9", 1)), 0o644)
	fromFile, _, code1 := runScorer(t, "", "rescore", "--current", rulesDir, "--rules", dir, "--events", sample, "--format", "json")
	fromCH, errOut, code2 := runScorer(t, "", "rescore", "--current", rulesDir, "--rules", dir, "--clickhouse", dsn, "--format", "json")
	if code1 != 0 || code2 != 0 {
		t.Fatalf("exit %d/%d: %s", code1, code2, errOut)
	}
	if fromCH != fromFile || !strings.Contains(fromCH, `"model":"engagement"`) {
		t.Errorf("rescore from ClickHouse differs from the file:\n%s", firstDiff(fromCH, fromFile))
	}
}

// --accept-ahead 0 is refused at start, naming the flag, rather than
// silently meaning the default 24h; so is a negative duration (the flag
// package names it with one dash).
func TestRunRefusesAcceptAheadZero(t *testing.T) {
	for _, v := range []string{"0", "0s", "-1m"} {
		_, errOut, code := runScorer(t, "", "run", "--rules", rulesDir, "--brokers", "127.0.0.1:1", "--http", "127.0.0.1:0", "--accept-ahead", v)
		if code == 0 || !strings.Contains(errOut, "-accept-ahead") {
			t.Errorf("--accept-ahead %s: exit %d, stderr %q: want it refused, naming the flag", v, code, errOut)
		}
	}
}
