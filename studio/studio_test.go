package studio

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/synth"
)

// fixture is a studio over a generated history and a copy of the
// repository's rules, with the streaming backtest's answers to compare
// the pages with.
type fixture struct {
	dir     string // the live rules
	history string // the JSONL file
	data    []byte
	srv     *Server
	ts      *httptest.Server
	lines   []backtest.Line // the streaming backtest of the live rules
}

var fixtureData struct {
	once sync.Once
	data []byte
}

// generated is ~14,000 events of 800 contacts over four weeks.
func generated(t testing.TB) []byte {
	fixtureData.once.Do(func() {
		cfg := synth.Default()
		cfg.Contacts, cfg.Days = 800, 28
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		if err := synth.Generate(cfg, func(ev *events.Event) error { return enc.Encode(ev) }); err != nil {
			t.Fatal(err)
		}
		fixtureData.data = buf.Bytes()
	})
	return fixtureData.data
}

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	f := &fixture{dir: filepath.Join(t.TempDir(), "rules"), data: generated(t)}
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"engagement.yaml", "intent.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "rules", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(f.dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f.history = filepath.Join(t.TempDir(), "history.jsonl")
	if err := os.WriteFile(f.history, f.data, 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := backtest.Load(bytes.NewReader(f.data), 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Rules, cfg.History, cfg.Source = []string{f.dir}, h, "history.jsonl"
	if cfg.Reload == nil {
		cfg.Watch, cfg.Reload = f.history, func() (*backtest.History, error) {
			in, err := os.Open(f.history)
			if err != nil {
				return nil, err
			}
			defer in.Close()
			return backtest.Load(in, 0)
		}
	}
	cfg.Log = zerolog.Nop()
	f.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.ts = httptest.NewServer(f.srv.Handler())
	t.Cleanup(f.ts.Close)
	f.lines = streamBacktest(t, f.data, f.dir)
	return f
}

// streamBacktest is the reference: the one-core streaming backtest.
func streamBacktest(t testing.TB, data []byte, paths ...string) []backtest.Line {
	t.Helper()
	set, err := rules.Load(paths...)
	if err != nil {
		t.Fatal(err)
	}
	e, err := scoring.NewEngine(set)
	if err != nil {
		t.Fatal(err)
	}
	var out []backtest.Line
	if _, err := backtest.Run(e, bytes.NewReader(data), nil, backtest.Options{}, func(l backtest.Line) error {
		out = append(out, l)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func (f *fixture) get(t testing.TB, path string, v any) int {
	t.Helper()
	resp, err := http.Get(f.ts.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode
}

func (f *fixture) post(t testing.TB, path string, body any, v any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(f.ts.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return resp.StatusCode
}

// expected counts, per model and threshold, what the overview must show.
type expected struct {
	contacts  int
	atOrAbove map[string]int
	crossed   map[string]int
	crossings map[string]int
}

func expect(lines []backtest.Line, set *rules.Set) map[string]*expected {
	out := map[string]*expected{}
	for _, m := range set.Models {
		out[m.Name] = &expected{atOrAbove: map[string]int{}, crossed: map[string]int{}, crossings: map[string]int{}}
	}
	for _, l := range lines {
		x := out[l.Model]
		x.contacts++
		m := set.Model(l.Model)
		p, _ := rules.ToPoints(l.Score)
		for _, th := range m.Thresholds {
			if p >= th.At {
				x.atOrAbove[th.Name]++
			}
		}
		seen := map[string]bool{}
		for _, n := range l.Thresholds {
			x.crossings[n]++
			if !seen[n] {
				x.crossed[n]++
				seen[n] = true
			}
		}
	}
	return out
}

// demoRequest35 is the live engagement model with demo requests worth 35
// points instead of 20.
func demoRequest35(t testing.TB, dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "engagement.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "- name: demo_request")
	j := i + strings.Index(s[i:], "points: 20")
	if i < 0 || j < i {
		t.Fatal("engagement.yaml has no demo_request group worth 20 points")
	}
	return s[:j] + "points: 35" + s[j+len("points: 20"):]
}

// newlyCrossing lists who crosses threshold th of model under next and
// never under cur, by the streaming backtest.
func newlyCrossing(cur, next []backtest.Line, model, th string) []string {
	had := map[string]bool{}
	for _, l := range cur {
		if l.Model == model && contains(l.Thresholds, th) {
			had[l.ContactID] = true
		}
	}
	var out []string
	for _, l := range next {
		if l.Model == model && contains(l.Thresholds, th) && !had[l.ContactID] {
			out = append(out, l.ContactID)
		}
	}
	sort.Strings(out)
	return out
}

// set is the distinct names of a list, sorted: the thresholds crossed at
// least once.
func set(names []string) string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func parsePoints(s string) (rules.Points, error) {
	f, err := strconv.ParseFloat(strings.TrimPrefix(s, "+"), 64)
	if err != nil {
		return 0, err
	}
	return rules.ToPoints(f)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestOverviewAPIEqualsBacktest(t *testing.T) {
	f := newFixture(t, Config{})
	var o Overview
	if code := f.get(t, "/api/overview", &o); code != 200 {
		t.Fatalf("status %d", code)
	}
	want := expect(f.lines, f.srv.current().set)
	if len(o.Models) != 2 || len(o.Problems) != 0 {
		t.Fatalf("models %d, problems %v", len(o.Models), o.Problems)
	}
	for _, m := range o.Models {
		x := want[m.Name]
		if m.Contacts != x.contacts {
			t.Errorf("%s: %d contacts, backtest %d", m.Name, m.Contacts, x.contacts)
		}
		sum := 0
		for _, b := range m.Histogram {
			sum += b.Count
		}
		if sum != x.contacts {
			t.Errorf("%s: histogram holds %d contacts, want %d", m.Name, sum, x.contacts)
		}
		weekly := 0
		for _, w := range m.Weeks {
			weekly += w.Total
		}
		total := 0
		for _, th := range m.Thresholds {
			if m.AtOrAbove[th.Name] != x.atOrAbove[th.Name] || m.Crossed[th.Name] != x.crossed[th.Name] || m.Crossings[th.Name] != x.crossings[th.Name] {
				t.Errorf("%s/%s: at or above %d crossed %d crossings %d; backtest %d %d %d", m.Name, th.Name,
					m.AtOrAbove[th.Name], m.Crossed[th.Name], m.Crossings[th.Name], x.atOrAbove[th.Name], x.crossed[th.Name], x.crossings[th.Name])
			}
			total += x.crossings[th.Name]
		}
		if weekly != total || total == 0 {
			t.Errorf("%s: %d crossings by week, backtest %d", m.Name, weekly, total)
		}
	}
}

func TestContactLedgerAddsUp(t *testing.T) {
	f := newFixture(t, Config{})
	checked := 0
	for _, l := range f.lines {
		if len(l.Crossings) == 0 || checked > 20 {
			continue
		}
		checked++
		var v ContactView
		if code := f.get(t, "/api/contacts/"+l.ContactID, &v); code != 200 {
			t.Fatalf("%s: status %d", l.ContactID, code)
		}
		for _, m := range v.Models {
			if m.Name != l.Model {
				continue
			}
			want, _ := rules.ToPoints(l.Score)
			var sum rules.Points
			for _, r := range m.Ledger {
				p, err := parsePoints(r.Text)
				if err != nil {
					t.Fatalf("ledger row %q: %v", r.Text, err)
				}
				sum += p
			}
			if sum != want || m.ScoreText != rules.FormatPoints(want) {
				t.Errorf("%s/%s: ledger adds to %s, page says %s, backtest %s", l.ContactID, l.Model, rules.FormatPoints(sum), m.ScoreText, rules.FormatPoints(want))
			}
			if len(m.Crossings) != len(l.Crossings) {
				t.Errorf("%s/%s: %d crossings, backtest %d", l.ContactID, l.Model, len(m.Crossings), len(l.Crossings))
			}
		}
	}
	if checked == 0 {
		t.Fatal("no contact with crossings")
	}
	var e apiError
	if code := f.get(t, "/api/contacts/nobody", &e); code != 404 || !strings.Contains(e.Error, `no contact "nobody"`) {
		t.Fatalf("unknown contact: %d %q", code, e.Error)
	}
}

func TestPreviewNewlyCrossingEqualsBacktest(t *testing.T) {
	f := newFixture(t, Config{})
	text := demoRequest35(t, f.dir)
	var res PreviewResult
	if code := f.post(t, "/api/preview", PreviewRequest{File: "engagement.yaml", Text: text}, &res); code != 200 || !res.OK {
		t.Fatalf("status %d: %+v", code, res.Problems)
	}
	next := filepath.Join(t.TempDir(), "next")
	os.MkdirAll(next, 0o755)
	os.WriteFile(filepath.Join(next, "engagement.yaml"), []byte(text), 0o644)
	b, _ := os.ReadFile(filepath.Join(f.dir, "intent.yaml"))
	os.WriteFile(filepath.Join(next, "intent.yaml"), b, 0o644)
	nextLines := streamBacktest(t, f.data, next)
	want := newlyCrossing(f.lines, nextLines, "engagement", "default")
	if len(want) == 0 {
		t.Fatal("the change makes nobody newly cross: the test would prove nothing")
	}
	// Every (contact, model) that changes, in both models.
	old := map[[2]string]backtest.Line{}
	for _, l := range f.lines {
		old[[2]string{l.ContactID, l.Model}] = l
	}
	changed := 0
	for _, n := range nextLines {
		o := old[[2]string{n.ContactID, n.Model}]
		if o.Score != n.Score || set(o.Thresholds) != set(n.Thresholds) {
			changed++
		}
	}
	if res.Changed != changed {
		t.Errorf("%d (contact, model) pairs change, the two backtests say %d", res.Changed, changed)
	}
	var got []string
	for _, m := range res.Models {
		for _, c := range m.Changes {
			if m.Name == "engagement" && c.Threshold == "default" {
				for _, mv := range c.Newly {
					got = append(got, mv.ContactID)
				}
			}
		}
	}
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("newly crossing:\n got %v\nwant %v", got, want)
	}
	// The live rules are untouched.
	if b, _ := os.ReadFile(filepath.Join(f.dir, "engagement.yaml")); string(b) == text {
		t.Fatal("the preview wrote the live rules")
	}
}

func TestPreviewBadInput(t *testing.T) {
	f := newFixture(t, Config{})
	var res PreviewResult
	f.post(t, "/api/preview", PreviewRequest{File: "engagement.yaml", Text: "model: x\ngroups:\n  - name: a\n    when: [\n"}, &res)
	if res.OK || len(res.Problems) == 0 || res.Problems[0].Line == 0 || res.Problems[0].File != "engagement.yaml" {
		t.Fatalf("YAML error: %+v", res)
	}
	var e apiError
	huge := strings.Repeat("# padding\n", MaxRuleBytes/10+10)
	if code := f.post(t, "/api/preview", PreviewRequest{File: "engagement.yaml", Text: huge}, &e); code != 413 || !strings.Contains(e.Error, "at most 256 KiB") {
		t.Fatalf("huge file: %d %q", code, e.Error)
	}
	bigger := strings.Repeat("x", 3*MaxRuleBytes)
	if code := f.post(t, "/api/preview", PreviewRequest{File: "engagement.yaml", Text: bigger}, &e); code != 413 || !strings.Contains(e.Error, "at most 256 KiB") {
		t.Fatalf("huge request: %d %q", code, e.Error)
	}
	if code := f.post(t, "/api/preview", PreviewRequest{File: "../etc/passwd", Text: "x"}, &e); code != 400 {
		t.Fatalf("bad name: %d %q", code, e.Error)
	}
}

func TestSaveWritesOnlyNewFilesOutsideTheLiveRules(t *testing.T) {
	f := newFixture(t, Config{})
	text := demoRequest35(t, f.dir)
	var e apiError
	if code := f.post(t, "/api/preview/save", SaveRequest{Path: filepath.Join(f.dir, "engagement-v2.yaml"), Text: text}, &e); code != 403 {
		t.Fatalf("into the live directory: %d %q", code, e.Error)
	}
	if code := f.post(t, "/api/preview/save", SaveRequest{Path: filepath.Join(f.dir, "engagement.yaml"), Text: text}, &e); code != 403 {
		t.Fatalf("over a live file: %d %q", code, e.Error)
	}
	out := filepath.Join(t.TempDir(), "engagement-v2.yaml")
	var ok map[string]any
	if code := f.post(t, "/api/preview/save", SaveRequest{Path: out, Text: text}, &ok); code != 200 {
		t.Fatalf("save: %d %v", code, ok)
	}
	if b, _ := os.ReadFile(out); string(b) != text {
		t.Fatal("saved file differs")
	}
	if code := f.post(t, "/api/preview/save", SaveRequest{Path: out, Text: text}, &e); code != 409 {
		t.Fatalf("over an existing file: %d %q", code, e.Error)
	}
	if code := f.post(t, "/api/preview/save", SaveRequest{Path: filepath.Join(t.TempDir(), "bad.yaml"), Text: "model: [\n"}, &e); code != 422 {
		t.Fatalf("a file with problems: %d %q", code, e.Error)
	}
}

func TestTokenRequiredOnEveryRequest(t *testing.T) {
	f := newFixture(t, Config{Token: "s3cret"})
	for _, p := range []string{"/", "/assets/app.js", "/api/overview", "/preview", "/nothing"} {
		resp, err := http.Get(f.ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("GET %s without the token: %d", p, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest("GET", f.ts.URL+"/api/overview", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("with the bearer token: %d", resp.StatusCode)
	}
	resp, err = http.Get(f.ts.URL + "/?token=wrong")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("wrong token: %d", resp.StatusCode)
	}
	for _, c := range []struct {
		addr string
		ok   bool
	}{{"127.0.0.1:8070", true}, {"[::1]:8070", true}, {"localhost:8070", true}, {":8070", false}, {"0.0.0.0:8070", false}, {"10.0.0.1:80", false}} {
		if IsLoopback(c.addr) != c.ok {
			t.Errorf("IsLoopback(%q) = %v", c.addr, !c.ok)
		}
	}
}

// TestLiveRulesWithProblems: the studio still starts; the overview lists
// the problems with their line, and the pages that need scores say why not.
func TestLiveRulesWithProblems(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("model: broken\nthreshold: 10\ngroups:\n  - name: a\n    when: event.type ==\n    points: 1\n"), 0o644)
	h, err := backtest.Load(bytes.NewReader(generated(t)), 0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Rules: []string{dir}, History: h, Source: "gen", Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	f := &fixture{ts: ts}
	var o Overview
	if code := f.get(t, "/api/overview", &o); code != 200 || len(o.Problems) == 0 || o.Problems[0].Line != 5 || !strings.Contains(o.Problems[0].Text, "broken.yaml:5") {
		t.Fatalf("overview: %d %+v", code, o.Problems)
	}
	var e apiError
	if code := f.get(t, "/api/contacts/c-000001", &e); code != 409 || !strings.Contains(e.Error, "fix them first") {
		t.Fatalf("contact: %d %q", code, e.Error)
	}
}

// TestPreviewNewFile: a rule file added to the live ones previews a new
// model: everyone it scores is a mover, who reaches its threshold newly
// crosses it.
func TestPreviewNewFile(t *testing.T) {
	f := newFixture(t, Config{})
	text := "model: demo_only\nthreshold: 20\nrearm_below: 10\ngroups:\n  - name: demo_request\n    when: event.type == \"form_submitted\" && event.properties.form == \"demo_request\"\n    points: 20\n"
	var res PreviewResult
	if code := f.post(t, "/api/preview", PreviewRequest{File: "demo-only.yaml", Text: text}, &res); code != 200 || !res.OK {
		t.Fatalf("%d %+v", code, res.Problems)
	}
	var m *PreviewModel
	for i := range res.Models {
		if res.Models[i].Name == "demo_only" {
			m = &res.Models[i]
		}
	}
	if m == nil || len(m.ThresholdsBefore) != 0 || len(m.Changes) != 1 || m.Changes[0].NewlyTotal == 0 {
		t.Fatalf("new model: %+v", m)
	}
	for _, b := range m.Before {
		if b.Count != 0 {
			t.Fatalf("a new model has contacts before: %+v", m.Before)
		}
	}
	if res.MoversTotal < res.Contacts {
		t.Fatalf("%d movers for %d contacts: every contact gets a score in the new model", res.MoversTotal, res.Contacts)
	}
}
