package calibration

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/synth"
)

// plant writes a generated history where a contact converts (deal_won, a
// day after T0) with a probability that grows with its /docs views before
// T0, and nothing else.
func plant(t *testing.T, contacts int, bias float64) (string, Query) {
	t.Helper()
	cfg := synth.Default()
	cfg.Contacts, cfg.Days = contacts, 35
	asOf := cfg.Start.Add(28 * day)
	var evs []*events.Event
	docs := map[string]int{}
	if err := synth.Generate(cfg, func(e *events.Event) error {
		c := *e
		evs = append(evs, &c)
		if p, _ := e.Properties["path"].(string); e.Type == "page_viewed" && strings.HasPrefix(p, "/docs") && !e.OccurredAt.After(asOf) {
			docs[e.ContactID]++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var planted []*events.Event
	for _, e := range evs {
		if seen[e.ContactID] {
			continue
		}
		seen[e.ContactID] = true
		p := 1 / (1 + math.Exp(-(bias + 1.5*float64(docs[e.ContactID]))))
		u := float64(xxhash.Sum64String("plant/"+e.ContactID)>>11) / (1 << 53)
		if u < p {
			planted = append(planted, &events.Event{ID: "won-" + e.ContactID, Type: "deal_won", ContactID: e.ContactID, OccurredAt: asOf.Add(day)})
		}
	}
	path := filepath.Join(t.TempDir(), "history.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, e := range append(evs, planted...) {
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		t.Fatal(err)
	}
	return path, Query{AsOf: asOf, Conversion: "deal_won", Window: 7 * day, Bands: 10}
}

func fitFile(t *testing.T, path string, q Query, minConv int) (FitResult, []byte, error) {
	t.Helper()
	e := engine(t, "testdata/planted.yaml")
	src, err := os.ReadFile("testdata/planted.yaml")
	if err != nil {
		t.Fatal(err)
	}
	open := func() (io.ReadCloser, error) { return os.Open(path) }
	res, err := Fit(e, e.Rules.Models[0], src, File(open), FitOptions{Query: q, Lambda: DefaultLambda, MinConversions: minConv}, nil)
	return res, src, err
}

// Conversions planted on an under-weighted group: the fitted points
// raise the holdout AUC, raise that group's points relative to the
// others, keep signs and whole points, and change nothing but points lines.
func TestFitRaisesHoldoutAUC(t *testing.T) {
	path, q := plant(t, 3000, -3.5)
	res, src, err := fitFile(t, path, q, DefaultMinConversions)
	if err != nil {
		t.Fatal(err)
	}
	if res.AUCBefore == nil || res.AUCAfter == nil || *res.AUCAfter <= *res.AUCBefore {
		t.Fatalf("holdout AUC before %v after %v: the fit should raise it", optF(res.AUCBefore), optF(res.AUCAfter))
	}
	t.Logf("holdout AUC %.4f -> %.4f (%d conversions); groups %+v", *res.AUCBefore, *res.AUCAfter, res.HoldoutConversions, res.Groups)
	byName := map[string]GroupFit{}
	for _, g := range res.Groups {
		byName[g.Group] = g
	}
	points := func(name string) float64 {
		var v float64
		if err := json.Unmarshal([]byte(byName[name].New), &v); err != nil {
			t.Fatalf("group %s: new points %q: %v", name, byName[name].New, err)
		}
		return v
	}
	if docs, opens := points("docs"), points("opens"); docs <= opens/10 {
		t.Errorf("docs %v vs opens %v points: docs should weigh more than a tenth of opens now", docs, opens)
	}
	if u := points("unsubscribed"); u > 0 {
		t.Errorf("unsubscribed got %v points: its sign must be kept", u)
	}
	if g := byName["sized_calls"]; g.Fitted || g.New != g.Old {
		t.Errorf("expression points must be kept: %+v", g)
	}
	// Identical except the points lines.
	a, b := strings.Split(string(src), "\n"), strings.Split(string(res.Source), "\n")
	if len(a) != len(b) {
		t.Fatalf("line count %d -> %d", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] && !strings.Contains(a[i], "points: ") {
			t.Errorf("line %d changed and is not a points line:\n%s\n%s", i+1, a[i], b[i])
		}
	}
	if _, err := rules.Parse("new.yaml", res.Source); err != nil {
		t.Errorf("the new file does not compile: %v", err)
	}
}

// Too few conversions: a clear refusal, no file.
func TestFitRefusesFewConversions(t *testing.T) {
	path, q := plant(t, 300, -6)
	res, _, err := fitFile(t, path, q, DefaultMinConversions)
	if !errors.Is(err, ErrTooFewConversions) || res.Source != nil {
		t.Fatalf("err %v: want ErrTooFewConversions and no file", err)
	}
	if !strings.Contains(err.Error(), "at least 30") {
		t.Errorf("message %q should say what is needed", err)
	}
}

func TestRewritePoints(t *testing.T) {
	src := "model: m # the model\ngroups:\n  - name: a\n    when: 'true'\n    points: 15   # keep this comment\n    max: 15\n  - {name: b, when: 'true', points: -2, max: 4}\n"
	out, err := RewritePoints([]byte(src), map[string]string{"a": "7", "b": "-11"})
	if err != nil {
		t.Fatal(err)
	}
	want := "model: m # the model\ngroups:\n  - name: a\n    when: 'true'\n    points: 7   # keep this comment\n    max: 15\n  - {name: b, when: 'true', points: -11, max: 4}\n"
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	if _, err := RewritePoints([]byte(src), map[string]string{"c": "1"}); err == nil {
		t.Error("an unknown group must be an error")
	}
	if _, err := RewritePoints([]byte(strings.Replace(src, "points: 15", `points: "15"`, 1)), map[string]string{"a": "1"}); err == nil {
		t.Error("quoted points (an expression) must not be rewritten")
	}
}

func optF(p *float64) any {
	if p == nil {
		return "none"
	}
	return *p
}

// Whatever the file, a rewrite either fails cleanly or changes only the
// points values of the groups asked for.
func FuzzRewritePoints(f *testing.F) {
	for _, p := range []string{"testdata/planted.yaml", "testdata/simple.yaml", "../testdata/rules/engagement.yaml"} {
		src, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte("groups:\n  - {name: a, points: 1}\n  - name: b\n    points: [1]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		edits := map[string]string{}
		for _, name := range []string{"a", "b", "opens", "docs", "call_started", "demo"} {
			edits[name] = "1234"
		}
		for name := range edits {
			if !strings.Contains(string(src), name) {
				delete(edits, name)
			}
		}
		out, err := RewritePoints(src, edits)
		if err != nil {
			return
		}
		a, b := strings.Split(string(src), "\n"), strings.Split(string(out), "\n")
		if len(a) != len(b) {
			t.Fatalf("line count %d -> %d", len(a), len(b))
		}
		for i := range a {
			if a[i] != b[i] && !strings.Contains(b[i], "1234") {
				t.Fatalf("line %d: %q -> %q", i+1, a[i], b[i])
			}
		}
	})
}

// A fit half where every contact converted has nothing to tell apart: a
// clear error, not an optimiser failure on an infinite start.
func TestLogisticNeedsBothOutcomes(t *testing.T) {
	samples := []sample{{x: []float64{1}, y: true}, {x: []float64{2}, y: true}, {x: []float64{0}, y: true, holdout: true}}
	_, err := logistic(samples, []float64{1}, DefaultLambda)
	if err == nil || !strings.Contains(err.Error(), "needs both converted and non-converted") {
		t.Fatalf("all converted: %v", err)
	}
	samples = []sample{{x: []float64{1}}, {x: []float64{2}}}
	if _, err := logistic(samples, []float64{1}, DefaultLambda); err == nil {
		t.Fatal("none converted: no error")
	}
}
