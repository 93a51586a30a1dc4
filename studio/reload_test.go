package studio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/calibration"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
)

func (f *fixture) page(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get(f.ts.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.String()
}

// checkOverview holds the overview to the streaming backtest of the rules
// in dir over data.
func checkOverview(t *testing.T, f *fixture, data []byte, dir string) Overview {
	t.Helper()
	var o Overview
	f.get(t, "/api/overview", &o)
	set, err := rules.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if o.RulesVersion != set.Version {
		t.Fatalf("overview rules %s, the files' %s", o.RulesVersion, set.Version)
	}
	want := expect(streamBacktest(t, data, dir), set)
	for _, m := range o.Models {
		x := want[m.Name]
		if m.Contacts != x.contacts {
			t.Errorf("%s: %d contacts, backtest %d", m.Name, m.Contacts, x.contacts)
		}
		for _, th := range set.Model(m.Name).Thresholds {
			if m.Crossings[th.Name] != x.crossings[th.Name] || m.AtOrAbove[th.Name] != x.atOrAbove[th.Name] {
				t.Errorf("%s/%s: crossings %d at or above %d, backtest %d and %d", m.Name, th.Name, m.Crossings[th.Name], m.AtOrAbove[th.Name], x.crossings[th.Name], x.atOrAbove[th.Name])
			}
		}
	}
	return o
}

// TestReloadRules: a page load after the rule files changed serves the new
// rules; rule files that stop loading keep the last good rules in force and
// show their problems on every page; POST /api/reload reads them again;
// unchanged files and history are not read again.
func TestReloadRules(t *testing.T) {
	f := newFixture(t, Config{})
	first := checkOverview(t, f, f.data, f.dir)
	held := f.srv.current().history
	if f.srv.reload(t.Context(), false, true) {
		t.Error("a reload with nothing changed read something again")
	}
	if f.srv.current().history != held {
		t.Error("the history was read again though its file did not change")
	}
	eng := filepath.Join(f.dir, "engagement.yaml")
	good := replaced(t, eng, "threshold: 40\n", "threshold: 30\n")
	good = strings.Replace(good, "rearm_below: 30\n", "rearm_below: 20\n", 1)
	os.WriteFile(eng, []byte(good), 0o644)
	page := f.page(t, "/preview")
	now := checkOverview(t, f, f.data, f.dir)
	if now.RulesVersion == first.RulesVersion || !strings.Contains(page, `data-version="`+now.RulesVersion+`"`) {
		t.Fatalf("the page load did not serve the changed rules (%s, page shows %q)", now.RulesVersion, page[strings.Index(page, `id="loaded"`):][:80])
	}
	if f.srv.current().history != held {
		t.Error("a change of the rules read the history again")
	}
	// A broken file: the last good rules stay, the problems show.
	os.WriteFile(eng, []byte("model: engagement\ngroups:\n  - name: a\n    when: [\n"), 0o644)
	page = f.page(t, "/calibration")
	var o Overview
	f.get(t, "/api/overview", &o)
	if o.RulesVersion != now.RulesVersion || o.Loaded.RulesFailedAt == nil || len(o.Problems) == 0 || !strings.Contains(o.Problems[0].Text, "engagement.yaml") {
		t.Fatalf("after a broken file: version %s (want %s kept), failed at %v, problems %+v", o.RulesVersion, now.RulesVersion, o.Loaded.RulesFailedAt, o.Problems)
	}
	if !strings.Contains(page, `id="reload-problems"`) || !strings.Contains(page, "engagement.yaml") || !strings.Contains(page, "stay in force") {
		t.Errorf("the page does not show the problems:\n%s", page)
	}
	var res PreviewResult
	if code := f.post(t, "/api/preview", PreviewRequest{File: "intent.yaml", Text: replaced(t, filepath.Join(f.dir, "intent.yaml"), "points: ", "points: 1")}, &res); code != 200 || !res.OK || res.RulesVersion != now.RulesVersion {
		t.Errorf("a preview against the last good rules: %d ok=%v against %s", code, res.OK, res.RulesVersion)
	}
	// Fixed, and read again on request.
	os.WriteFile(eng, []byte(good), 0o644)
	var ans struct {
		Reloaded bool       `json:"reloaded"`
		Status   LoadStatus `json:"status"`
	}
	if code := f.post(t, "/api/reload", nil, &ans); code != 200 || !ans.Reloaded || ans.Status.RulesFailedAt != nil || len(ans.Status.Problems) != 0 || ans.Status.RulesVersion != now.RulesVersion {
		t.Fatalf("POST /api/reload: %d %+v", code, ans)
	}
	if !ans.Status.RulesLoadedAt.After(o.Loaded.RulesLoadedAt) {
		t.Errorf("loaded at %v, not after %v", ans.Status.RulesLoadedAt, o.Loaded.RulesLoadedAt)
	}
	if p := f.page(t, "/"); strings.Contains(p, "reload-problems") {
		t.Error("the problems still show after the files load again")
	}
}

// TestReloadHistory: a page load after the events file grew scores the
// longer history; with a history read only on request (ClickHouse), page
// loads do not read it and POST /api/reload?history=1 does.
func TestReloadHistory(t *testing.T) {
	f := newFixture(t, Config{})
	checkOverview(t, f, f.data, f.dir)
	// More events: the first contact's again under new ids, and a new contact.
	var more bytes.Buffer
	enc := json.NewEncoder(&more)
	evs := f.srv.current().history.Of(f.lines[0].ContactID)
	for i, ev := range evs {
		ev.ID = fmt.Sprintf("more-%d", i)
		enc.Encode(ev)
		ev.ContactID, ev.ID = "c-new", fmt.Sprintf("new-%d", i)
		enc.Encode(ev)
	}
	data := append(append([]byte(nil), f.data...), more.Bytes()...)
	os.WriteFile(f.history, data, 0o644)
	f.page(t, "/")
	o := checkOverview(t, f, data, f.dir)
	if o.History.Lines != bytes.Count(data, []byte("\n")) || o.History.Contacts != f.srv.current().history.Contacts() {
		t.Errorf("history after it grew: %+v", o.History)
	}
	var c ContactView
	if code := f.get(t, "/api/contacts/c-new", &c); code != 200 || len(c.Events) != len(evs) {
		t.Errorf("the new contact: %d, %d events", code, len(c.Events))
	}

	// On request only.
	var reads atomic.Int32
	g := newFixture(t, Config{Reload: func() (*backtest.History, error) {
		reads.Add(1)
		return backtest.Load(bytes.NewReader(data), 0)
	}})
	g.page(t, "/")
	if reads.Load() != 0 {
		t.Fatal("a page load read a history that is read only on request")
	}
	var ans struct {
		Status LoadStatus `json:"status"`
	}
	g.post(t, "/api/reload?history=1", nil, &ans)
	if reads.Load() != 1 || !ans.Status.HistoryOnRequest || ans.Status.HistoryEvents != g.srv.current().history.Events() {
		t.Fatalf("POST /api/reload?history=1: %d reads, %+v", reads.Load(), ans.Status)
	}
	checkOverview(t, g, data, g.dir)
	// A failing read keeps the history held and says so.
	g.srv.cfg.Reload = func() (*backtest.History, error) { return nil, fmt.Errorf("clickhouse: connection refused") }
	held := g.srv.current().history
	g.post(t, "/api/reload?history=1", nil, &ans)
	if g.srv.current().history != held || !strings.Contains(ans.Status.HistoryError, "connection refused") {
		t.Errorf("a failed read: %+v", ans.Status)
	}
	if p := g.page(t, "/"); !strings.Contains(p, `id="history-error"`) {
		t.Error("the page does not say the history could not be read")
	}
}

// TestCalibrationHeldHistory: calibration and fit answer from the history
// the other pages answer from: after the events file grew, not before the
// page load that reads it again; then from the longer one.
func TestCalibrationHeldHistory(t *testing.T) {
	f := newFixture(t, Config{})
	const conv = "email_clicked"
	const query = "conversion=" + conv + "&as_of=2026-10-14&window=14d&bands=10"
	q, err := calibration.ParseQuery("2026-10-14", conv, "14d", 10)
	if err != nil {
		t.Fatal(err)
	}
	// calibrate and fit over data, as `scorer calibrate` and `scorer fit` do.
	want := func(data []byte) (report, fit string) {
		open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		in, _ := open()
		rep, _, pop, err := calibration.FromHistory(f.srv.current().engine, in, open, q, nil)
		if err != nil {
			t.Fatal(err)
		}
		m := f.srv.current().engine.Rules.Model("engagement")
		src, _ := os.ReadFile(m.File)
		res, err := calibration.Fit(f.srv.current().engine, m, src, calibration.File(open), calibration.FitOptions{Query: q, Lambda: calibration.DefaultLambda, MinConversions: calibration.DefaultMinConversions}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := json.Marshal(map[string]any{"report": rep, "population": pop})
		x, _ := json.Marshal(res)
		return string(r), string(x)
	}
	got := func() (report, fit string) {
		var v struct {
			Report     json.RawMessage        `json:"report"`
			Population calibration.Population `json:"population"`
			Error      string                 `json:"error"`
		}
		if code := f.get(t, "/api/calibration?"+query, &v); code != 200 || v.Error != "" {
			t.Fatalf("GET /api/calibration: %d %s", code, v.Error)
		}
		var x struct {
			Fit json.RawMessage `json:"fit"`
		}
		if code := f.get(t, "/api/calibration/fit?model=engagement&"+query, &x); code != 200 {
			t.Fatalf("GET /api/calibration/fit: %d %s", code, x.Fit)
		}
		r, _ := json.Marshal(map[string]any{"report": v.Report, "population": v.Population})
		return string(r), string(x.Fit)
	}
	heldReport, heldFit := want(f.data)
	// More history: contacts like the first 300, under new ids, each
	// converting within the window.
	var more bytes.Buffer
	enc := json.NewEncoder(&more)
	t0 := time.Date(2026, 10, 14, 0, 0, 0, 0, time.UTC)
	for i, id := range f.srv.current().history.ContactIDs()[:300] {
		for j, ev := range f.srv.current().history.Of(id) {
			ev.ContactID, ev.ID = fmt.Sprintf("more-%d", i), fmt.Sprintf("more-%d-%d", i, j)
			enc.Encode(ev)
		}
		enc.Encode(events.Event{ID: fmt.Sprintf("more-%d-conv", i), Type: conv, ContactID: fmt.Sprintf("more-%d", i), OccurredAt: t0.Add(time.Duration(i) * time.Hour)})
	}
	data := append(append([]byte(nil), f.data...), more.Bytes()...)
	grownReport, grownFit := want(data)
	if grownReport == heldReport || grownFit == heldFit {
		t.Fatal("the added history does not change the calibration: the test tests nothing")
	}
	if err := os.WriteFile(f.history, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if r, x := got(); r != heldReport || x != heldFit {
		t.Errorf("before a page load read the grown file again, calibration answers from another history than the pages:\n got %s\n     %s\nwant %s\n     %s", r, x, heldReport, heldFit)
	}
	f.page(t, "/calibration")
	if r, x := got(); r != grownReport || x != grownFit {
		t.Errorf("after the page load, calibration does not answer from the grown history:\n got %s\n     %s\nwant %s\n     %s", r, x, grownReport, grownFit)
	}
}

// TestReloadDoesNotStallRequests: a reload waiting behind a running
// scoring (a preview) holds up no other request: pages and endpoints
// answer at once from the state in force, a request under way finishes on
// the state it started with, and the reload's state serves every request
// after it.
func TestReloadDoesNotStallRequests(t *testing.T) {
	f := newFixture(t, Config{})
	client := &http.Client{Timeout: 5 * time.Second}
	answers := func(path string) (string, bool) {
		t.Helper()
		resp, err := client.Get(f.ts.URL + path)
		if err != nil {
			t.Errorf("GET %s while a reload waits: %v", path, err)
			return "", false
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return b.String(), true
	}
	var first Overview
	f.get(t, "/api/overview", &first)

	// A scoring runs (the slot is taken), and a preview waits for it.
	f.srv.scoring <- struct{}{}
	released := false
	release := func() {
		if !released {
			released = true
			<-f.srv.scoring
		}
	}
	defer release()
	intent := filepath.Join(f.dir, "intent.yaml")
	previewDone := make(chan PreviewResult, 1)
	go func() {
		var res PreviewResult
		f.post(t, "/api/preview", PreviewRequest{File: "intent.yaml", Text: replaced(t, intent, "points: ", "points: 1")}, &res)
		previewDone <- res
	}()
	waitForWaiters(t, f.srv, 1) // the preview is in, waiting for the slot

	// A reload that scores nothing (a rule file touched, same rules)
	// answers at once, and so do the requests after it.
	now := time.Now().Add(time.Minute)
	os.Chtimes(intent, now, now)
	reloaded := make(chan int, 2)
	go func() { reloaded <- f.post(t, "/api/reload", nil, new(map[string]any)) }()
	select {
	case code := <-reloaded:
		if code != 200 {
			t.Errorf("POST /api/reload: %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Error("a reload that scores nothing waited for the preview")
	}
	if _, ok := answers("/api/overview"); !ok {
		release()
		t.FailNow()
	}

	// A reload that must score the changed rules waits for the slot;
	// meanwhile pages and endpoints answer from the rules in force.
	eng := filepath.Join(f.dir, "engagement.yaml")
	os.WriteFile(eng, []byte(replaced(t, eng, "threshold: 40\n", "threshold: 35\n")), 0o644)
	go func() { reloaded <- f.post(t, "/api/reload", nil, new(map[string]any)) }()
	waitForWaiters(t, f.srv, 2) // the reload is in, waiting for the slot too
	for _, path := range []string{"/", "/contacts/" + f.lines[0].ContactID, "/api/overview", "/api/contacts/" + f.lines[0].ContactID} {
		page, ok := answers(path)
		if !ok {
			continue
		}
		if strings.HasPrefix(path, "/api/") {
			if !strings.Contains(page, `"rules_version":"`+first.RulesVersion+`"`) {
				t.Errorf("GET %s while the reload waits: not the rules in force (%s)", path, first.RulesVersion)
			}
		} else if !strings.Contains(page, `data-version="`+first.RulesVersion+`"`) {
			t.Errorf("GET %s while the reload waits: not the rules in force (%s)", path, first.RulesVersion)
		}
	}
	release()
	if res := <-previewDone; !res.OK || res.RulesVersion != first.RulesVersion {
		t.Errorf("the preview under way: ok=%v against %s, want the rules it started with (%s)", res.OK, res.RulesVersion, first.RulesVersion)
	}
	if code := <-reloaded; code != 200 {
		t.Errorf("POST /api/reload: %d", code)
	}
	o := checkOverview(t, f, f.data, f.dir)
	if o.RulesVersion == first.RulesVersion {
		t.Error("after the reload, the overview still has the old rules")
	}
}

// waitForWaiters waits until n requests or reloads wait for the scoring
// slot.
func waitForWaiters(t *testing.T, srv *Server, n int32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for srv.waiting.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d waiting for the scoring slot after 10 s, want %d", srv.waiting.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
