package studio

import (
	"bytes"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

// accountsFixture is a studio over the generated history with the sample
// account rules.
func accountsFixture(t *testing.T) (*fixture, *scoring.Engine) {
	t.Helper()
	f := &fixture{dir: filepath.Join("..", "testdata", "rules-accounts"), data: generated(t)}
	f.history = filepath.Join(t.TempDir(), "history.jsonl")
	if err := os.WriteFile(f.history, f.data, 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := backtest.Load(bytes.NewReader(f.data), 0)
	if err != nil {
		t.Fatal(err)
	}
	f.srv, err = New(Config{Rules: []string{f.dir}, History: h, Source: "history.jsonl", Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	f.ts = httptest.NewServer(f.srv.Handler())
	t.Cleanup(f.ts.Close)
	set, err := rules.Load(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	e, err := scoring.NewEngine(set)
	if err != nil {
		t.Fatal(err)
	}
	return f, e
}

// asLine is what a company view says of one company model, as a backtest
// company line.
func asLine(id string, m CompanyModel) backtest.CompanyLine {
	l := backtest.CompanyLine{CompanyID: id, Model: m.Model, Score: m.Score, Contacts: map[string]float64{}, Coverage: m.Coverage, Crossings: []time.Time{}}
	for _, c := range m.Members {
		l.Contacts[c.ContactID] = c.Score
	}
	for _, x := range m.Crossings {
		l.Crossings = append(l.Crossings, x.At)
		l.Thresholds = append(l.Thresholds, x.Threshold)
	}
	return l
}

// TestCompanyAsOf: /api/companies/{id}?as_of=T answers, for every
// company, the backtest's company lines with --as-of T; a bad date and a
// time before a company's first member are clear errors.
func TestCompanyAsOf(t *testing.T) {
	f, e := accountsFixture(t)
	first, last := f.srv.cfg.History.Span()
	var some string
	for _, at := range []string{"", first.Add(last.Sub(first) / 2).UTC().Format(time.RFC3339), last.UTC().Format("2006-01-02")} {
		asOf, _ := time.Parse(time.RFC3339, at)
		if len(at) == 10 {
			asOf, _ = time.Parse("2006-01-02", at)
		}
		want := map[string][]backtest.CompanyLine{}
		if err := backtest.RunCompanies(e, bytes.NewReader(f.data), asOf, func(l backtest.CompanyLine) error {
			want[l.CompanyID] = append(want[l.CompanyID], l)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(want) < 3 {
			t.Fatalf("as of %q: %d companies", at, len(want))
		}
		ids := make([]string, 0, len(want))
		for id := range want {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		some = ids[0]
		for _, id := range ids {
			var v CompanyView
			path := "/api/companies/" + id
			if at != "" {
				path += "?as_of=" + at
			}
			if code := f.get(t, path, &v); code != 200 {
				t.Fatalf("GET %s: %d", path, code)
			}
			if at == "" && v.AsOf != nil || at != "" && (v.AsOf == nil || !v.AsOf.Equal(asOf)) {
				t.Errorf("GET %s: as_of %v", path, v.AsOf)
			}
			var got []backtest.CompanyLine
			for _, m := range v.Models {
				got = append(got, asLine(id, m))
			}
			if !reflect.DeepEqual(got, want[id]) {
				t.Errorf("GET %s:\n got %+v\nwant %+v", path, got, want[id])
			}
		}
		// `scorer explain --company ID --as-of T` says what the page says.
		for _, id := range ids[:min(len(ids), 5)] {
			evs, err := backtest.CollectCompany(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }, id, nil)
			if err != nil {
				t.Fatal(err)
			}
			x := backtest.ExplainCompany(e, id, evs, asOf)
			var v CompanyView
			f.get(t, "/api/companies/"+id+"?as_of="+at, &v)
			for i, m := range v.Models {
				sc := x.Scores[i]
				members := map[string]float64{}
				for _, c := range sc.Contacts {
					members[c.ContactID] = rules.Float(c.Score)
				}
				if m.Score != rules.Float(sc.Score) || !reflect.DeepEqual(asLine(id, m).Contacts, members) {
					t.Errorf("as of %q, %s/%s: the page says %v points, members %v; explain %v, %v", at, id, m.Model, m.Score, asLine(id, m).Contacts, rules.Float(sc.Score), members)
				}
				n := 0
				for _, c := range x.Crossings {
					if c.Model == m.Model {
						if n >= len(m.Crossings) || !m.Crossings[n].At.Equal(c.At) {
							t.Errorf("as of %q, %s/%s: explain's crossing %d at %v, the page's %+v", at, id, m.Model, n, c.At, m.Crossings)
						}
						n++
					}
				}
				if n != len(m.Crossings) {
					t.Errorf("as of %q, %s/%s: explain has %d crossings, the page %d", at, id, m.Model, n, len(m.Crossings))
				}
			}
		}
	}
	// Bad input: a clear message, the status says what went wrong.
	for path, msg := range map[string]string{
		"/api/companies/x?as_of=2026-13-45": `as of "2026-13-45": want RFC 3339`,
		"/api/companies/x?as_of=yesterday":  `as of "yesterday": want RFC 3339`,
		"/api/companies/" + some + "?as_of=" + first.Add(-time.Hour).UTC().Format(time.RFC3339): `no company "` + some + `" has members in the history (history.jsonl) as of`,
	} {
		var ae apiError
		code := f.get(t, path, &ae)
		if code/100 != 4 || !strings.Contains(ae.Error, msg) {
			t.Errorf("GET %s: %d %q, want a 4xx saying %q", path, code, ae.Error, msg)
		}
	}
}

// editedDir is the live rules of dir with one file's text replaced.
func editedDir(t *testing.T, dir, file, text string) string {
	t.Helper()
	out := t.TempDir()
	names, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(n) == file {
			b = []byte(text)
		}
		if err := os.WriteFile(filepath.Join(out, filepath.Base(n)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func replaced(t *testing.T, path, old, new string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", path, old)
	}
	return strings.Replace(string(b), old, new, 1)
}

// TestPreviewCompanies: a preview shows the company models' effect as
// `scorer rescore` computes it from the backtest's company lines under
// both rule sets: when the edited file is a model companies roll up, when
// it is the company model itself, and none when it is neither.
func TestPreviewCompanies(t *testing.T) {
	f, cur := accountsFixture(t)
	for _, tc := range []struct {
		file, old, new string
		scored         bool
	}{
		{"engagement.yaml", "points: 2\n", "points: 7\n", true},
		{"account_engagement.yaml", "threshold: 80\nrearm_below: 60\n", "threshold: 55\nrearm_below: 40\n", true},
		{"account_engagement.yaml", "champion: 15", "champion: 0", true},
		{"intent.yaml", "points: ", "points: 1", false},
	} {
		t.Run(tc.file+"/"+strings.TrimSpace(tc.new), func(t *testing.T) {
			text := replaced(t, filepath.Join(f.dir, tc.file), tc.old, tc.new)
			var res PreviewResult
			if code := f.post(t, "/api/preview", PreviewRequest{File: tc.file, Text: text}, &res); code != 200 || !res.OK {
				t.Fatalf("preview: %d %+v", code, res.Problems)
			}
			pc := res.Companies
			if pc == nil || pc.Scored != tc.scored {
				t.Fatalf("companies: %+v, want scored %v", pc, tc.scored)
			}
			nextDir := editedDir(t, f.dir, tc.file, text)
			next := engineOf(t, nextDir)
			want, err := backtest.RescoreCompanies(cur, next, func() (io.ReadCloser, error) { return os.Open(f.history) })
			if err != nil {
				t.Fatal(err)
			}
			if tc.scored && len(want) == 0 {
				t.Fatal("the edit moves no company: a weak case")
			}
			if pc.MoversTotal != len(want) || !reflect.DeepEqual(pc.Movers, append([]backtest.CompanyChange{}, want[:min(len(want), maxRows)]...)) {
				t.Errorf("movers: %d shown, rescore %d\n got %+v\nwant %+v", pc.MoversTotal, len(want), pc.Movers, want)
			}
			newly, noLonger := map[string][]string{}, map[string][]string{}
			for _, c := range want {
				for _, th := range c.NewlyCrosses {
					newly[c.Model+"/"+th] = append(newly[c.Model+"/"+th], c.CompanyID)
				}
				for _, th := range c.NoLongerCrosses {
					noLonger[c.Model+"/"+th] = append(noLonger[c.Model+"/"+th], c.CompanyID)
				}
			}
			for _, m := range pc.Models {
				for _, ch := range m.Changes {
					k := m.Name + "/" + ch.Threshold
					var got []string
					for _, c := range ch.Newly {
						got = append(got, c.CompanyID)
					}
					sort.Strings(newly[k])
					if ch.NewlyTotal != len(newly[k]) || strings.Join(got, " ") != strings.Join(newly[k], " ") {
						t.Errorf("%s newly crossing: %v, rescore %v", k, got, newly[k])
					}
					if ch.NoLongerTotal != len(noLonger[k]) {
						t.Errorf("%s no longer crossing: %d, rescore %d", k, ch.NoLongerTotal, len(noLonger[k]))
					}
				}
				// The distributions hold every company line of both runs.
				count := func(bins []Bin) (n int) {
					for _, b := range bins {
						n += b.Count
					}
					return n
				}
				lines := func(e *scoring.Engine) (n int) {
					backtest.RunCompanies(e, bytes.NewReader(f.data), time.Time{}, func(l backtest.CompanyLine) error {
						if l.Model == m.Name {
							n++
						}
						return nil
					})
					return n
				}
				if count(m.Before) != lines(cur) || count(m.After) != lines(next) {
					t.Errorf("%s: distributions of %d and %d companies, backtest %d and %d", m.Name, count(m.Before), count(m.After), lines(cur), lines(next))
				}
			}
		})
	}
}

func engineOf(t *testing.T, dir string) *scoring.Engine {
	t.Helper()
	set, err := rules.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	e, err := scoring.NewEngine(set)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
