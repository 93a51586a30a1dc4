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
	f.srv, err = New(Config{Rules: []string{f.dir}, History: h, Source: "history.jsonl", Log: zerolog.Nop(),
		Open: func() (io.ReadCloser, error) { return os.Open(f.history) }})
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
