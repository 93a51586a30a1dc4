package backtest

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testdata/history.jsonl (handMade) is a hand-made history over testdata/rules:
//   - a: clicks, a demo that crosses fit on 03-03, a duplicate, four clicks
//     capped at 12 and a score capped at max_score 18 on 03-04, and a last
//     click on 03-12 that leaves the older clicks out of the 7-day window;
//   - b: its demo (03-05) arrives before its clicks (03-01, 03-02), so the
//     streaming pass would cross on 03-01; the second pass, in time order,
//     crosses on 03-05 as the live scorer would;
//   - c: an event no group counts, then one click;
//   - d: two views twelve hours apart that cross warm only with the decay;
//   - one line that is not JSON.
const handMade = "testdata/history.jsonl"

func reopen(path string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return os.Open(path) }
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// lineJSON is a Line as the golden files show it: with the threshold of
// each crossing, which the backtest's own JSON leaves out.
type lineJSON struct {
	Line
	Thresholds []string `json:"thresholds"`
}

// run backtests in with opts and renders every line, then the summary.
func run(t *testing.T, e *scoring.Engine, in io.Reader, again func() (io.ReadCloser, error), opts Options) ([]byte, Summary) {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	sum, err := Run(e, in, again, opts, func(l Line) error { return enc.Encode(lineJSON{l, l.Thresholds}) })
	if err != nil {
		t.Fatal(err)
	}
	s, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	b.Write(s)
	b.WriteByte('\n')
	return b.Bytes(), sum
}

func TestRun(t *testing.T) {
	e := engine(t, "testdata/rules")
	data, err := os.ReadFile(handMade)
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	opts := Options{BadLine: func(le *events.LineError) { bad = append(bad, le.Error()) }}
	got, sum := run(t, e, bytes.NewReader(data), reopen(handMade), opts)
	golden(t, "run.golden", got)
	if len(bad) != 1 || !strings.HasPrefix(bad[0], "line 10:") {
		t.Errorf("bad lines reported: %q, want line 10", bad)
	}
	// What the golden file pins, said outright.
	if sum.Reordered != 1 || sum.Duplicates != 1 || sum.BadLines != 1 || sum.Events != 14 || sum.Lines != 16 || sum.Contacts != 4 {
		t.Errorf("summary %+v", sum)
	}
	for _, l := range decodeLines(t, got) {
		if l.ContactID == "b" && l.Model == "fit" {
			want := time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC)
			if len(l.Crossings) != 1 || !l.Crossings[0].Equal(want) {
				t.Errorf("b crosses fit at %v, want only %v (the demo, in time order)", l.Crossings, want)
			}
		}
	}

	// Without reopen the second pass reads a spooled copy: same answer.
	spooled, _ := run(t, e, bytes.NewReader(data), nil, Options{})
	if !bytes.Equal(spooled, got) {
		t.Errorf("spooled second pass differs:\n%s\nwant\n%s", spooled, got)
	}
}

func decodeLines(t *testing.T, out []byte) []lineJSON {
	t.Helper()
	var ls []lineJSON
	for _, s := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !strings.HasPrefix(s, `{"contact_id"`) {
			continue
		}
		var l lineJSON
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	return ls
}

// Whatever order the events arrive in, the lines are the same: contacts
// that came out of order are replayed in order.
func TestRunArrivalOrder(t *testing.T) {
	e := engine(t, "testdata/rules")
	data, err := os.ReadFile(handMade)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := run(t, e, bytes.NewReader(data), nil, Options{})
	want = want[:bytes.LastIndexByte(want[:len(want)-1], '\n')+1] // the lines, not the summary
	lines := strings.SplitAfter(string(data), "\n")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		rng.Shuffle(len(lines), func(a, b int) { lines[a], lines[b] = lines[b], lines[a] })
		in := strings.Join(lines, "")
		if !strings.HasSuffix(in, "\n") {
			in += "\n"
		}
		got, _ := run(t, e, strings.NewReader(in), nil, Options{})
		if got = got[:bytes.LastIndexByte(got[:len(got)-1], '\n')+1]; !bytes.Equal(got, want) {
			t.Fatalf("shuffle %d:\n%s\nwant\n%s\ninput:\n%s", i, got, want, in)
		}
	}
}

// --as-of scores at that time: later events are counted as future, and a
// contact whose only out-of-order event is in the future is not replayed.
// d's views have decayed by the as-of time, but its crossing stays.
func TestRunAsOf(t *testing.T) {
	e := engine(t, "testdata/rules")
	f, err := os.Open(handMade)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var seen []string
	var states []string
	opts := Options{
		AsOf:  time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC),
		Seen:  func(ev *events.Event) { seen = append(seen, ev.ID) },
		State: func(id string, c *scoring.Contact) error { states = append(states, id); return nil },
	}
	got, sum := run(t, e, f, reopen(handMade), opts)
	golden(t, "run-asof.golden", got)
	if sum.Future != 4 || sum.Reordered != 0 {
		t.Errorf("future %d, reordered %d; want 4 (a5, b5, b6, c2) and 0", sum.Future, sum.Reordered)
	}
	if strings.Join(states, " ") != "a b c d" {
		t.Errorf("states saved for %v, want a b c d in contact order", states)
	}
	// Calibration learns later conversions from Seen: every event but the
	// duplicate, future ones included, in input order.
	if strings.Join(seen, " ") != "a1 a2 b5 a3 b1 d1 b2 c1 d2 a4 a6 b6 a5 c2" {
		t.Errorf("seen %v: want every distinct event in input order", seen)
	}
}

func TestExplain(t *testing.T) {
	e := engine(t, "testdata/rules")
	for _, tt := range []struct {
		contact, asOf, golden string
	}{
		{"a", "", "explain-a.golden"},                          // window drops, a cap, the crossing
		{"a", "2026-03-04T12:00:00Z", "explain-a-asof.golden"}, // the group cap and max_score
		{"b", "", "explain-b.golden"},                          // crossing at the demo though it came first
		{"d", "", "explain-d.golden"},                          // decay factors
	} {
		f, err := os.Open(handMade)
		if err != nil {
			t.Fatal(err)
		}
		bad := 0
		evs, err := Collect(f, tt.contact, func(*events.LineError) { bad++ })
		f.Close()
		if err != nil || bad != 1 {
			t.Fatalf("collect %s: %v, %d bad lines", tt.contact, err, bad)
		}
		for _, ev := range evs {
			if ev.ContactID != tt.contact {
				t.Fatalf("collect %s returned %s's event %s", tt.contact, ev.ContactID, ev.ID)
			}
		}
		var at time.Time
		if tt.asOf != "" {
			at, _ = time.Parse(time.RFC3339, tt.asOf)
		}
		var b bytes.Buffer
		if err := Explain(e, tt.contact, evs, at).Write(&b, e.Rules); err != nil {
			t.Fatal(err)
		}
		golden(t, tt.golden, b.Bytes())
	}
}

// The explanation and the backtest agree on scores and crossings.
func TestExplainAgreesWithRun(t *testing.T) {
	e := engine(t, "testdata/rules")
	out, _ := run(t, e, mustOpen(t, handMade), reopen(handMade), Options{})
	for _, l := range decodeLines(t, out) {
		evs, err := Collect(mustOpen(t, handMade), l.ContactID, nil)
		if err != nil {
			t.Fatal(err)
		}
		x := Explain(e, l.ContactID, evs, time.Time{})
		mi := modelIndex(e.Rules, l.Model)
		if got := rules.Float(x.Models[mi].Score); got != l.Score {
			t.Errorf("%s/%s: explain %v, backtest %v", l.ContactID, l.Model, got, l.Score)
		}
		if len(x.Crossings[mi]) != len(l.Crossings) {
			t.Errorf("%s/%s: explain crosses %d times, backtest %d", l.ContactID, l.Model, len(x.Crossings[mi]), len(l.Crossings))
			continue
		}
		for i, c := range x.Crossings[mi] {
			if !c.At.Equal(l.Crossings[i]) || c.Threshold.Name != l.Thresholds[i] {
				t.Errorf("%s/%s crossing %d: explain %s at %v, backtest %s at %v", l.ContactID, l.Model, i, c.Threshold.Name, c.At, l.Thresholds[i], l.Crossings[i])
			}
		}
	}
}

func mustOpen(t *testing.T, path string) io.Reader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func modelIndex(set *rules.Set, name string) int {
	for i, m := range set.Models {
		if m.Name == name {
			return i
		}
	}
	return -1
}

// Under testdata/next the demo is worth 1 instead of 8, warm is gone and
// calls is new: b (9 points at most) no longer crosses fit, a still does
// (a day later), c newly crosses calls, d no longer crosses warm, every
// contact moves in the added and removed models; crossing changes first.
func TestRescore(t *testing.T) {
	current, next := engine(t, "testdata/rules"), engine(t, "testdata/next")
	bad := 0
	changes, sum, err := Rescore(current, next, reopen(handMade), Options{BadLine: func(*events.LineError) { bad++ }})
	if err != nil {
		t.Fatal(err)
	}
	if bad != 1 {
		t.Errorf("bad line reported %d times, want once", bad)
	}
	got, err := json.MarshalIndent(struct {
		Changes []Change
		Summary RescoreSummary
	}{changes, sum}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "rescore.golden", append(got, '\n'))
	if sum.NoLongerCrosses < 1 || len(changes) == 0 || len(changes[0].NewlyCrosses)+len(changes[0].NoLongerCrosses) == 0 {
		t.Errorf("crossing changes must come first: %+v", changes)
	}

	// The same rules on both sides change nothing.
	same, sum, err := Rescore(current, current, reopen(handMade), Options{})
	if err != nil || len(same) != 0 || sum.Changed != 0 || sum.Contacts != 4 {
		t.Errorf("rescore under the same rules: %+v, %+v, %v", same, sum, err)
	}
}

func TestMissing(t *testing.T) {
	if got := missing([]string{"b", "a", "b", "c"}, []string{"c"}); strings.Join(got, ",") != "a,b" {
		t.Errorf("missing = %v, want [a b] (once each, sorted)", got)
	}
	if got := missing(nil, []string{"a"}); got != nil {
		t.Errorf("missing(nil) = %v", got)
	}
}

// TestRunAllocatesLittleBeyondDecoding holds the streaming Run's own
// allocations (contacts, their arenas, crossings, lines) under one per
// event on top of decoding's: an event that escapes to the heap (as one
// did when Seen was given &ev) costs one per event on its own.
func TestRunAllocatesLittleBeyondDecoding(t *testing.T) {
	data := history(t, 300, 20, 5, false)
	e := engine(t, "testdata/rules")
	n := 0
	decode := testing.AllocsPerRun(3, func() {
		n = 0
		if err := events.NewReader(bytes.NewReader(data)).Each(func(events.Event) error { n++; return nil }, nil); err != nil {
			t.Fatal(err)
		}
	})
	again := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	run := testing.AllocsPerRun(3, func() {
		if _, err := Run(e, bytes.NewReader(data), again, Options{}, func(Line) error { return nil }); err != nil {
			t.Fatal(err)
		}
	})
	if extra := (run - decode) / float64(n); extra >= 1 {
		t.Errorf("Run allocates %.2f times per event beyond decoding's %.2f (%d events): something escapes per event", extra, decode/float64(n), n)
	} else {
		t.Logf("Run allocates %.2f times per event beyond decoding's %.2f (%d events)", extra, decode/float64(n), n)
	}
}
