package backtest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/synth"
)

// TestProjectionChangesNothing holds the backtest that decodes only the
// keys the rules read to the one that decodes every key: the same lines
// byte for byte, the same summary (expression errors and their examples
// included), the same bad lines with the same messages, the same final
// states, streaming and on every core, with and without --as-of; and the
// same company scores and crossings. Over every rule set of testdata and
// the generator's, and inputs with events out of order, duplicates, blank
// and bad lines.
func TestProjectionChangesNothing(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "bench.yaml", synth.Rules(40))
	writeFile(t, dir, "errors.yaml", errorRules)
	engines := []struct {
		name string
		e    *scoring.Engine
	}{
		{"testdata", engine(t, "../testdata/rules")},
		{"accounts", engine(t, "../testdata/rules-accounts")},
		{"synth", engine(t, dir, "../testdata/rules")},
		{"backtest", engine(t, "testdata/rules")},
	}
	inputs := map[string][]byte{"generated": history(t, 400, 20, 3, true)}
	for _, p := range []string{"../testdata/events/sample.jsonl", "../testdata/events/bad.jsonl", "../testdata/events/acme.jsonl", handMade} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		inputs[p] = data
	}
	for _, en := range engines {
		e := en.e
		proj := projection(e.Rules, Options{})
		if proj == nil {
			t.Fatalf("%s: no projection: the test would compare a decoding with itself", en.name)
		}
		for name, data := range inputs {
			for _, asOf := range []time.Time{{}, time.Date(2026, 10, 12, 0, 0, 0, 0, time.UTC)} {
				t.Run(fmt.Sprintf("%s/%s/asof=%v", en.name, name, !asOf.IsZero()), func(t *testing.T) {
					opts := Options{AsOf: asOf}
					runs := map[string]func(*events.Projection) result{
						"Run": func(p *events.Projection) result {
							return collectNoSeen(t, e, func(o Options, emit func(Line) error) (Summary, error) {
								return runProjected(e, bytes.NewReader(data), nil, o, emit, p)
							}, opts)
						},
						"RunParallel": func(p *events.Projection) result {
							return collectNoSeen(t, e, func(o Options, emit func(Line) error) (Summary, error) {
								return runParallel(e, bytes.NewReader(data), nil, o, emit, p)
							}, opts)
						},
					}
					for rn, run := range runs {
						want, got := run(nil), run(proj)
						if got.out != want.out {
							t.Fatalf("%s: output differs:\n%s", rn, firstDiff(got.out, want.out))
						}
						if !reflect.DeepEqual(got.sum, want.sum) || !reflect.DeepEqual(got.bad, want.bad) || !reflect.DeepEqual(got.states, want.states) {
							t.Fatalf("%s: summary, bad lines or states differ:\n got %+v %q\nwant %+v %q", rn, got.sum, got.bad, want.sum, want.bad)
						}
					}
					if len(e.Rules.Companies) == 0 {
						return
					}
					want, wantX, err := companyScores(e, bytes.NewReader(data), asOf, nil)
					if err != nil {
						t.Fatal(err)
					}
					got, gotX, err := companyScores(e, bytes.NewReader(data), asOf, companyProjection(e.Rules))
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotX, wantX) {
						t.Fatalf("company scores or crossings differ")
					}
				})
			}
		}
	}
}

// TestProjectionIsNeeded: leaving out a key the rules read does change
// the output, so TestProjectionChangesNothing would see a projection
// that misses one; and the projection leaves most keys out.
func TestProjectionIsNeeded(t *testing.T) {
	e := engine(t, "../testdata/rules")
	data := history(t, 300, 20, 4, false)
	proj := projection(e.Rules, Options{})
	if want := []string{"duration_s", "form", "path"}; !slices.Equal(proj.Properties(), want) {
		t.Fatalf("projected properties %v, want %v", proj.Properties(), want)
	}
	out := func(p *events.Projection) string {
		return collectNoSeen(t, e, func(o Options, emit func(Line) error) (Summary, error) {
			return runProjected(e, bytes.NewReader(data), nil, o, emit, p)
		}, Options{}).out
	}
	full := out(nil)
	if out(proj) != full {
		t.Fatal("the projection changes the output")
	}
	for _, drop := range proj.Properties() {
		var keep []string
		for _, k := range proj.Properties() {
			if k != drop {
				keep = append(keep, k)
			}
		}
		if out(events.NewProjection(keep, proj.Contact())) == full {
			t.Errorf("leaving out properties.%s changes nothing: the history does not exercise it", drop)
		}
	}
	if out(events.NewProjection(proj.Properties(), nil)) == full {
		t.Error("leaving out contact.email changes nothing: the history does not exercise it")
	}
}

// collectNoSeen is collect without Seen, which a projected backtest never
// has (projection gives nil with it).
func collectNoSeen(t *testing.T, e *scoring.Engine, run func(Options, func(Line) error) (Summary, error), opts Options) result {
	return collect(t, e, func(o Options, emit func(Line) error) (Summary, error) {
		o.Seen = nil
		return run(o, emit)
	}, opts)
}

// TestNoProjection: every key is decoded when a caller sees the events
// (Seen) or an expression reads an object dynamically.
func TestNoProjection(t *testing.T) {
	e := engine(t, "../testdata/rules")
	if projection(e.Rules, Options{Seen: func(*events.Event) {}}) != nil {
		t.Error("projected with Seen")
	}
	dir := t.TempDir()
	writeFile(t, dir, "dyn.yaml", "model: dyn\nthreshold: 5\ngroups:\n  - name: g\n    when: len(contact) > 3\n    points: 1\n")
	dyn := engine(t, dir, "../testdata/rules")
	if projection(dyn.Rules, Options{}) != nil || companyProjection(dyn.Rules) != nil {
		t.Error("projected though an expression reads contact as a whole")
	}
}

// TestContactIndex: contacts are found by id, whatever their hashes
// share (here every id has the same hash, and some ids two hashes).
func TestContactIndex(t *testing.T) {
	var x contactIndex
	var ids []string
	for i := range 3000 {
		id := fmt.Sprintf("c-%d", i)
		h := uint64(7)
		if i%3 == 0 {
			h = uint64(i) << 40
		}
		if _, ok := x.find(ids, id, h); ok {
			t.Fatalf("%s found before it was added", id)
		}
		x.add(h, int32(len(ids)))
		ids = append(ids, id)
	}
	for i, id := range ids {
		h := uint64(7)
		if i%3 == 0 {
			h = uint64(i) << 40
		}
		if ci, ok := x.find(ids, id, h); !ok || ci != int32(i) {
			t.Fatalf("%s: %d %v, want %d", id, ci, ok, i)
		}
	}
}

// TestRereadable: without reopen, the second pass reads the input again
// from where it stood if it can seek, else from a copy: the same lines
// and summary as with reopen, streaming and on every core.
func TestRereadable(t *testing.T) {
	e := engine(t, "testdata/rules")
	data, err := os.ReadFile(handMade)
	if err != nil {
		t.Fatal(err)
	}
	for name, runner := range map[string]func(io.Reader, func() (io.ReadCloser, error), Options, func(Line) error) (Summary, error){
		"Run": func(in io.Reader, re func() (io.ReadCloser, error), o Options, emit func(Line) error) (Summary, error) {
			return Run(e, in, re, o, emit)
		},
		"RunParallel": func(in io.Reader, re func() (io.ReadCloser, error), o Options, emit func(Line) error) (Summary, error) {
			return RunParallel(e, in, re, o, emit)
		},
	} {
		out := func(in io.Reader, re func() (io.ReadCloser, error)) result {
			return collectNoSeen(t, e, func(o Options, emit func(Line) error) (Summary, error) { return runner(in, re, o, emit) }, Options{})
		}
		want := out(bytes.NewReader(data), reopen(handMade))
		if want.sum.Reordered == 0 {
			t.Fatalf("%s: no second pass to test", name)
		}
		// Before where the input starts, an event the second pass would
		// count if it read from the beginning.
		const before = `{"id":"b0","type":"page_viewed","contact_id":"b","occurred_at":"2026-03-05T10:00:00Z"}` + "\n"
		advanced := bytes.NewReader(append([]byte(before), data...))
		advanced.Seek(int64(len(before)), io.SeekStart)
		f, err := os.Open(handMade)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for in, r := range map[string]io.Reader{
			"seekable from where it stood": advanced,
			"not seekable (a copy)":        io.MultiReader(bytes.NewReader(data)),
			"a file":                       f,
		} {
			if got := out(r, nil); got.out != want.out || !reflect.DeepEqual(got.sum, want.sum) || !reflect.DeepEqual(got.bad, want.bad) {
				t.Errorf("%s, %s: output or summary differs:\n%s", name, in, firstDiff(got.out, want.out))
			}
		}
	}
}

// TestRescoreProjectionChangesNothing: Rescore, which decodes the keys
// either rule set reads, gives what comparing over every key gives, for
// rule sets that read different keys.
func TestRescoreProjectionChangesNothing(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "bench.yaml", synth.Rules(40))
	writeFile(t, dir, "errors.yaml", errorRules)
	cur, next := engine(t, "../testdata/rules"), engine(t, dir)
	p := projection2(cur.Rules, next.Rules, Options{})
	if p == nil || !slices.Contains(p.Properties(), "path") || !slices.Contains(p.Properties(), "channel") {
		t.Fatalf("projection %v: not the union of the two rule sets' keys", p)
	}
	data := history(t, 300, 20, 6, true)
	for _, asOf := range []time.Time{{}, time.Date(2026, 10, 12, 0, 0, 0, 0, time.UTC)} {
		opts := Options{AsOf: asOf}
		changes, sum, err := Rescore(cur, next, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, opts)
		if err != nil {
			t.Fatal(err)
		}
		h, err := Load(bytes.NewReader(data), 0)
		if err != nil {
			t.Fatal(err)
		}
		want, err := h.Compare(cur, next, opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) == 0 || !reflect.DeepEqual(changes, want.Changes) || !reflect.DeepEqual(sum, want.Summary) {
			t.Fatalf("as of %v: %d changes, summary %+v; want %d, %+v", asOf, len(changes), sum, len(want.Changes), want.Summary)
		}
	}
}
