package backtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/synth"
)

// errorRules has a group whose expression fails on most events (int() of a
// word), so that expression errors and their examples are compared too.
const errorRules = `model: errors
threshold: 5
rearm_below: 2
groups:
  - name: bad_int
    when: event.type == "page_viewed" && int(event.properties.channel) > 2
    points: 1
  - name: opens
    when: event.type == "email_opened"
    points: 2
    max: 9
    window: 7d
`

func engine(t testing.TB, paths ...string) *scoring.Engine {
	t.Helper()
	set, err := rules.Load(paths...)
	if err != nil {
		t.Fatal(err)
	}
	e, err := scoring.NewEngine(set)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func writeFile(t testing.TB, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// history generates a stream and makes it as awkward as inputs get: some
// events moved out of time order, duplicates with other content, blank and
// bad lines.
func history(t testing.TB, contacts, days int, seed uint64, awkward bool) []byte {
	t.Helper()
	cfg := synth.Default()
	cfg.Contacts, cfg.Days, cfg.Seed, cfg.DuplicateRate = contacts, days, seed, 0.03
	var lines [][]byte
	err := synth.Generate(cfg, func(ev *events.Event) error {
		b, err := json.Marshal(ev)
		lines = append(lines, b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !awkward {
		return append(bytes.Join(lines, []byte("\n")), '\n')
	}
	r := rand.New(rand.NewPCG(seed, 7))
	for i := 0; i < len(lines)/20; i++ { // 5% of lines moved elsewhere
		a, b := r.IntN(len(lines)), r.IntN(len(lines))
		lines[a], lines[b] = lines[b], lines[a]
	}
	var buf bytes.Buffer
	for i, l := range lines {
		buf.Write(l)
		buf.WriteByte('\n')
		switch i % 997 {
		case 3:
			buf.WriteString("not json\n")
		case 5:
			buf.WriteString("\n")
		case 7:
			buf.WriteString(`{"id":"x","type":"page_viewed","contact_id":"c-000001","occurred_at":"yesterday"}` + "\n")
		}
	}
	return buf.Bytes()
}

type result struct {
	out    string
	sum    Summary
	bad    []string
	states []string
	seen   []string
}

func collect(t testing.TB, e *scoring.Engine, run func(Options, func(Line) error) (Summary, error), opts Options) result {
	t.Helper()
	var r result
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	opts.BadLine = func(le *events.LineError) { r.bad = append(r.bad, le.Error()) }
	opts.Seen = func(ev *events.Event) { r.seen = append(r.seen, ev.ContactID+"/"+ev.ID+"/"+ev.Type) }
	opts.State = func(id string, c *scoring.Contact) error {
		r.states = append(r.states, id+" "+string(e.Encode(nil, c)))
		return nil
	}
	sum, err := run(opts, func(l Line) error { return enc.Encode(l) })
	if err != nil {
		t.Fatal(err)
	}
	r.out, r.sum = buf.String(), sum
	return r
}

// TestHistoryRunEqualsRun: the sharded, in-memory backtest gives the
// streaming backtest's output byte for byte, its summary, its bad lines and
// the same final states, for any number of shards, with and without as-of.
func TestHistoryRunEqualsRun(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "bench.yaml", synth.Rules(40))
	writeFile(t, dir, "errors.yaml", errorRules)
	engines := map[string]*scoring.Engine{
		"testdata": engine(t, "../testdata/rules"),
		"synth":    engine(t, dir, "../testdata/rules"),
	}
	data := history(t, 400, 20, 3, true)
	h1, err := Load(bytes.NewReader(data), 1)
	if err != nil {
		t.Fatal(err)
	}
	h4, err := Load(bytes.NewReader(data), 4)
	if err != nil {
		t.Fatal(err)
	}
	h7, err := Load(bytes.NewReader(data), 7)
	if err != nil {
		t.Fatal(err)
	}
	for name, e := range engines {
		for _, asOf := range []time.Time{{}, time.Date(2026, 10, 12, 0, 0, 0, 0, time.UTC)} {
			t.Run(fmt.Sprintf("%s/asof=%v", name, !asOf.IsZero()), func(t *testing.T) {
				opts := Options{AsOf: asOf}
				want := collect(t, e, func(o Options, emit func(Line) error) (Summary, error) {
					return Run(e, bytes.NewReader(data), nil, o, emit)
				}, opts)
				if want.sum.Reordered == 0 || want.sum.Duplicates == 0 || want.sum.BadLines == 0 {
					t.Fatalf("the input does not exercise the second pass, duplicates and bad lines: %+v", want.sum)
				}
				if name == "synth" && len(want.sum.Examples) != maxExamples {
					t.Fatalf("want expression errors: %+v", want.sum)
				}
				// RunParallel, without Seen (with it, it is Run).
				noSeen := func(o Options) Options { o.Seen = nil; return o }
				par := collect(t, e, func(o Options, emit func(Line) error) (Summary, error) {
					return RunParallel(e, bytes.NewReader(data), nil, noSeen(o), emit)
				}, opts)
				if par.out != want.out {
					t.Fatalf("RunParallel: output differs:\n%s", firstDiff(par.out, want.out))
				}
				if !reflect.DeepEqual(par.sum, want.sum) || !reflect.DeepEqual(par.bad, want.bad) || !reflect.DeepEqual(par.states, want.states) {
					t.Fatalf("RunParallel: summary, bad lines or states differ:\n got %+v\nwant %+v", par.sum, want.sum)
				}
				for i, h := range []*History{h1, h4, h7} {
					got := collect(t, e, func(o Options, emit func(Line) error) (Summary, error) { return h.Run(e, o, emit) }, opts)
					if got.out != want.out {
						t.Fatalf("history %d: output differs:\n%s", i, firstDiff(got.out, want.out))
					}
					if !reflect.DeepEqual(got.sum, want.sum) {
						t.Fatalf("history %d: summary\n got %+v\nwant %+v", i, got.sum, want.sum)
					}
					if !reflect.DeepEqual(got.bad, want.bad) {
						t.Fatalf("history %d: bad lines\n got %q\nwant %q", i, got.bad, want.bad)
					}
					if !reflect.DeepEqual(got.states, want.states) {
						t.Fatalf("history %d: final states differ", i)
					}
					if !reflect.DeepEqual(got.seen, want.seen) || len(want.seen) == 0 {
						t.Fatalf("history %d: Seen got %d events, want %d (the same, in input order)", i, len(got.seen), len(want.seen))
					}
					// Without State and Seen (a preview), one state is reused for
					// contact after contact.
					var buf bytes.Buffer
					enc := json.NewEncoder(&buf)
					sum, err := h.Run(e, Options{AsOf: asOf}, func(l Line) error { return enc.Encode(l) })
					if err != nil || buf.String() != want.out || !reflect.DeepEqual(sum, want.sum) {
						t.Fatalf("history %d without State: %v, output or summary differs:\n%s", i, err, firstDiff(buf.String(), want.out))
					}
				}
			})
		}
	}
}

// TestRescoreEqualsTwoRuns: Compare's changes are those of the two streaming
// backtests diffed.
func TestRescoreEqualsTwoRuns(t *testing.T) {
	dir := t.TempDir()
	cur := engine(t, "../testdata/rules")
	changed := strings.Replace(mustRead(t, "../testdata/rules/engagement.yaml"), "points: 20\n", "points: 35\n", 1)
	writeFile(t, dir, "engagement.yaml", changed)
	writeFile(t, dir, "intent.yaml", mustRead(t, "../testdata/rules/intent.yaml"))
	next := engine(t, dir)
	data := history(t, 300, 20, 5, true)
	open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	changes, sum, err := Rescore(cur, next, open, Options{})
	if err != nil {
		t.Fatal(err)
	}
	lines := func(e *scoring.Engine) map[[2]string]Line {
		out := map[[2]string]Line{}
		if _, err := Run(e, bytes.NewReader(data), nil, Options{}, func(l Line) error {
			out[[2]string{l.ContactID, l.Model}] = l
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	old, now := lines(cur), lines(next)
	want := 0
	newly := 0
	for k, o := range old {
		n := now[k]
		nc := missing(n.Thresholds, o.Thresholds)
		if n.Score != o.Score || len(nc) > 0 || len(missing(o.Thresholds, n.Thresholds)) > 0 {
			want++
		}
		if len(nc) > 0 {
			newly++
		}
	}
	if len(changes) != want || sum.Changed != want || sum.NewlyCrossing != newly || newly == 0 {
		t.Fatalf("%d changes (summary %d, %d newly crossing), want %d (%d newly crossing)", len(changes), sum.Changed, sum.NewlyCrossing, want, newly)
	}
	for _, c := range changes {
		k := [2]string{c.ContactID, c.Model}
		if *c.Old != old[k].Score || *c.New != now[k].Score {
			t.Fatalf("%v: %v -> %v, want %v -> %v", k, *c.Old, *c.New, old[k].Score, now[k].Score)
		}
	}
}

func mustRead(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) && i < len(w); i++ {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d\n got %s\nwant %s", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(g), len(w))
}
