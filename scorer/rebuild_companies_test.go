package scorer

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/analytics/analyticstest"
	"github.com/scorebridge/scorebridge/companyscores"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

// rescore --apply with company models: after a change to the contact
// model a company model rolls up, the rebuilt member trackers and company states make
// a scorer started with the new rules answer the reference under them at
// once, for every company, without any new event; the markers of contacts
// forgotten for privacy stay on the company changelog.
func TestRebuildCompaniesFromHistory(t *testing.T) {
	dsn := analyticstest.DSN(t, "sb_companies")
	e := setup(t, 80)
	dir := t.TempDir()
	for _, f := range []string{"account_engagement.yaml", "engagement.yaml", "intent.yaml"} {
		src, err := os.ReadFile("../testdata/rules-accounts/" + f)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), src, 0o644)
	}
	run := func() (string, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		addr, done := serve(t, ctx, Options{
			Brokers: e.brokers, EventsTopic: "events", CrossingsTopic: "crossings", DLQTopic: "dlq",
			ChangelogTopic: "states", Group: "scorer", Rules: []string{dir}, CompanyScoresTopic: "company-scores",
			ClickHouse: dsn, HTTP: "127.0.0.1:0", Log: zerolog.Nop(),
		})
		return "http://" + addr, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("stop: %v", err)
			}
		}
	}
	ctx := ctxFor(t, 3*time.Minute)
	_, stop := run()
	waitFor(t, "both groups committed", func() (bool, error) {
		for _, g := range [][2]string{{"scorer", "events"}, {"scorer-companies", "events-companies"}} {
			if ok, err := committedTo(ctx, e.brokers, g[0], g[1]); err != nil || !ok {
				return false, nil
			}
		}
		return true, nil
	})
	stop()

	// New rules: meetings are worth more to the contact model the company
	// model rolls up (a change to the company model alone needs no
	// rebuild: a company's score is taken from its members' views).
	path := filepath.Join(dir, "engagement.yaml")
	src, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(src), "points: 10\n    max: 20", "points: 20\n    max: 40", 1)), 0o644)
	set, err := rules.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	next, err := scoring.NewEngine(set)
	if err != nil {
		t.Fatal(err)
	}
	store, err := analytics.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	history := historyFile(t, ctx, store)
	open := func() (io.ReadCloser, error) { return os.Open(history) }
	// A marker of a contact forgotten for privacy on the company
	// changelog (companies.go) outlives the rebuild.
	erased := markerMessage("erased-1", marker{At: time.Now().UnixNano(), Kind: privacy})
	if err := producer(t, e.brokers, "events-companies-state").WritePartition(ctx, 1, erased); err != nil {
		t.Fatal(err)
	}
	if _, err := Rebuild(ctx, RebuildOptions{Brokers: e.brokers, EventsTopic: "events", Changelog: "states", Group: "scorer",
		CompanyScoresTopic: "company-scores"}, next, open); err != nil {
		t.Fatal(err)
	}
	if v := latest(t, e.brokers, "events-companies-state")[string(erased.Key)]; v == nil {
		t.Error("the rebuild dropped the marker of a contact forgotten for privacy from the company changelog")
	}
	// The company-scores topic says the new scores before any scorer runs.
	published := latest(t, e.brokers, "company-scores")

	var valid []events.Event
	for _, ev := range e.events {
		if ev.ID != "" {
			valid = append(valid, ev)
		}
	}
	old, err := rules.Load("../testdata/rules-accounts")
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]rules.Points{}
	for _, s := range accounts.Companies(old, valid) {
		before[s.CompanyID] = s.Score
	}
	base, stop := run()
	defer stop()
	changed := 0
	for _, w := range accounts.Companies(set, valid) {
		if w.Score != before[w.CompanyID] {
			changed++
		}
		var got CompanyLine
		waitFor(t, "company "+w.CompanyID, func() (bool, error) {
			code, body := get(t, base+"/companies/"+w.CompanyID+"/score?model="+w.Model)
			json.Unmarshal([]byte(body), &got)
			return code == 200, nil
		})
		if got.Score != rules.Float(w.Score) || len(got.Contacts) != len(w.Contacts) {
			t.Errorf("%s after the rebuild: %+v, want %v with %d contacts", w.CompanyID, got, rules.Float(w.Score), len(w.Contacts))
		}
		msg, ok, err := companyscores.Decode([]byte(w.CompanyID), published[w.CompanyID])
		if err != nil || !ok || msg.Models[w.Model].Score != rules.Float(w.Score) || msg.RuleVersion != set.Version {
			t.Errorf("%s: company-scores message after the rebuild: %+v %v %v, want %v under %s", w.CompanyID, msg.Models[w.Model], ok, err, rules.Float(w.Score), set.Version)
		}
	}
	if changed == 0 {
		t.Fatal("the new rules change no company's score: the test checks nothing")
	}
	t.Logf("%d companies changed by the new rules", changed)
}

// A reload that adds the first company model is refused, saying what to
// do: the running rules stay, and the refusal counts as an invalid reload
// (the ScorerInvalidRules alert).
func TestReloadRefusesTheFirstCompanyModel(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"engagement.yaml", "intent.yaml"} {
		src, err := os.ReadFile("../testdata/rules-accounts/" + f)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), src, 0o644)
	}
	set, err := rules.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	engine, err := scoring.NewEngine(set)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	s := &Service{opts: Options{Rules: []string{dir}, Log: zerolog.New(logs)}}
	s.processor = NewProcessor(Config{Log: zerolog.Nop()}, engine)
	m := NewMetrics(prometheus.NewRegistry(), func() float64 { return 0 })
	src, err := os.ReadFile("../testdata/rules-accounts/account_engagement.yaml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "account_engagement.yaml"), src, 0o644)
	s.reload(context.Background(), m, "test")
	if v := s.processor.Engine().Rules.Version; v != set.Version {
		t.Errorf("running version %s after the refused reload, want %s", v, set.Version)
	}
	if line := logs.line("new rules add the first company model, which a reload cannot start: keeping the running version. " +
		"Stop the scorers, run scorer rescore --apply with the new rules (it builds the member trackers and company states from the history), then start them with the new rules"); line == "" {
		t.Errorf("no refusal logged: %s", logs.String())
	}
	if n := testutil.ToFloat64(m.Reloads.WithLabelValues("invalid")); n != 1 {
		t.Errorf("invalid reloads %v, want 1", n)
	}
	// Without the company model again, a change reloads.
	os.Remove(filepath.Join(dir, "account_engagement.yaml"))
	os.WriteFile(filepath.Join(dir, "extra.yaml"), []byte("model: extra\ngroups:\n  - {name: x, when: 'event.type == \"x\"', points: 1}\n"), 0o644)
	s.reload(context.Background(), m, "test")
	if testutil.ToFloat64(m.Reloads.WithLabelValues("ok")) != 1 {
		t.Errorf("a reload without company models was not applied: %s", logs.String())
	}
}
