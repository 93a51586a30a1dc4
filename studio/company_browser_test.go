package studio

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

// TestBrowserCompany serves the sample account rules over the generated
// history and checks the company page against the backtest's company
// line of the top company: the score per company model, every member's
// current score, the coverage and the crossings; the overview and the
// member's contact page link to it.
func TestBrowserCompany(t *testing.T) {
	data := generated(t)
	dir := filepath.Join("..", "testdata", "rules-accounts")
	history := filepath.Join(t.TempDir(), "history.jsonl")
	os.WriteFile(history, data, 0o644)
	h, err := backtest.Load(bytes.NewReader(data), 0)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Rules: []string{dir}, History: h, Source: "history.jsonl", Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	ts := hs.URL

	// The reference: the backtest's company lines (`scorer backtest`).
	set, err := rules.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	e, err := scoring.NewEngine(set)
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string][]backtest.CompanyLine{}
	var ranked []backtest.CompanyLine
	if err := backtest.RunCompanies(e, bytes.NewReader(data), time.Time{}, func(l backtest.CompanyLine) error {
		lines[l.CompanyID] = append(lines[l.CompanyID], l)
		if l.Model == set.Companies[0].Name {
			ranked = append(ranked, l)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sort.SliceStable(ranked, func(i, j int) bool { return ranked[i].Score > ranked[j].Score })
	if len(ranked) == 0 || len(ranked[0].Crossings) == 0 {
		t.Fatalf("the history gives no company that crossed (%d companies)", len(ranked))
	}
	top := ranked[0]

	ctx := browser(t)
	open(t, ctx, ts+"/")
	if got := texts(t, ctx, `[data-testid=top-companies] tbody tr td:first-child`); len(got) == 0 || got[0] != top.CompanyID {
		t.Fatalf("top companies shown %v, the backtest's top is %s", got, top.CompanyID)
	}
	do(t, ctx, chromedp.Click(fmt.Sprintf(`[data-testid=top-companies] a[href="/companies/%s"]`, top.CompanyID)))
	wait(t, ctx, fmt.Sprintf(`location.pathname === "/companies/%s" && document.body.dataset.ready === "true"`, top.CompanyID))
	checkCompanyPage(t, ctx, lines[top.CompanyID])
	shot(t, ctx, "company")

	// As of the day before its first crossing, typed in the page: the
	// backtest's company lines with --as-of then.
	asOf := top.Crossings[0].UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	then := companyLines(t, e, data, asOf)[top.CompanyID]
	if len(then) == 0 {
		t.Fatalf("%s has no members as of %s: pick another time", top.CompanyID, asOf)
	}
	do(t, ctx, chromedp.Focus("#as_of"), chromedp.SendKeys("#as_of", asOf.Format("2006-01-02")+kb.Enter))
	wait(t, ctx, fmt.Sprintf(`location.search === "?as_of=%s" && document.body.dataset.ready === "true"`, asOf.Format("2006-01-02")))
	checkCompanyPage(t, ctx, then)
	if st := text(t, ctx, "#status"); !strings.Contains(st, "as of "+asOf.Format("2006-01-02")+" 00:00:00 UTC") {
		t.Errorf("status %q does not say the time", st)
	}
	if then[0].Score == lines[top.CompanyID][0].Score && len(then[0].Crossings) == len(lines[top.CompanyID][0].Crossings) {
		t.Errorf("as of %s the company looks as at the end: the as-of was not applied", asOf)
	}
	shot(t, ctx, "company-as-of")
	// A bad date: a clear message in the page, the control still there.
	eval[bool](t, ctx, `(() => { document.querySelector("#as_of").value = ""; return true })()`)
	do(t, ctx, chromedp.Focus("#as_of"), chromedp.SendKeys("#as_of", "2026-13-45"+kb.Enter))
	wait(t, ctx, `document.querySelector("#error").textContent !== ""`)
	if e := text(t, ctx, "#error"); !strings.Contains(e, `as of "2026-13-45": want RFC 3339`) {
		t.Errorf("bad date shows %q", e)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("#as_of").length`); n != 1 {
		t.Error("the as-of control is gone after a bad date")
	}

	// A member's contact page links back to its company.
	var member string
	for id := range top.Contacts {
		member = id
		break
	}
	open(t, ctx, ts+"/contacts/"+member)
	if got := text(t, ctx, `[data-testid=company] a`); got != top.CompanyID {
		t.Errorf("contact %s: company shown %q, want %s", member, got, top.CompanyID)
	}
	open(t, ctx, ts+"/companies/no-such-co")
	if e := text(t, ctx, "#error"); !strings.Contains(e, `no company "no-such-co"`) {
		t.Errorf("unknown company: %q", e)
	}
}

// checkCompanyPage holds the company page shown to the backtest's company
// lines of the company: the score per model, every member's score, the
// coverage and the crossings' times.
func checkCompanyPage(t *testing.T, ctx context.Context, lines []backtest.CompanyLine) {
	t.Helper()
	if len(lines) == 0 {
		t.Fatal("no company lines to compare with")
	}
	if e := text(t, ctx, "#error"); e != "" {
		t.Fatalf("error shown: %s", e)
	}
	for _, l := range lines {
		sec := fmt.Sprintf(`section[data-model=%q] `, l.Model)
		if got := text(t, ctx, fmt.Sprintf(`[data-testid=score][data-model=%q] .v`, l.Model)); got != fmt.Sprint(l.Score) {
			t.Errorf("%s: score shown %s, backtest %v", l.Model, got, l.Score)
		}
		shown := eval[map[string]string](t, ctx, fmt.Sprintf(`Object.fromEntries([...document.querySelectorAll(%q)].map(tr => [tr.dataset.contact, tr.querySelector("[data-testid=member-score]").textContent]))`, sec+`[data-testid=members] tbody tr`))
		if len(shown) != len(l.Contacts) {
			t.Errorf("%s: %d members shown, backtest %d", l.Model, len(shown), len(l.Contacts))
		}
		for id, sc := range l.Contacts {
			if shown[id] != fmt.Sprint(sc) {
				t.Errorf("%s: member %s shown %q, backtest %v", l.Model, id, shown[id], sc)
			}
		}
		note := text(t, ctx, sec+`p.note`)
		for _, r := range l.Coverage {
			if !strings.Contains(note, r) {
				t.Errorf("%s: coverage %s not shown in %q", l.Model, r, note)
			}
		}
		at := texts(t, ctx, sec+`[data-testid=company-crossings] [data-testid=crossing-at]`)
		var want []string
		for _, x := range l.Crossings {
			want = append(want, strings.Replace(x.UTC().Format(time.RFC3339Nano), "T", " ", 1))
		}
		if len(at) != len(want) {
			t.Errorf("%s: crossings shown %v, backtest %v", l.Model, at, want)
		}
		for i := range min(len(at), len(want)) {
			if strings.TrimSuffix(at[i], " UTC") != strings.TrimSuffix(want[i], "Z") {
				t.Errorf("%s: crossing %d shown %s, backtest %s", l.Model, i, at[i], want[i])
			}
		}
	}
}

// companyLines runs the backtest's company lines (`scorer backtest
// --as-of`) over data, by company.
func companyLines(t *testing.T, e *scoring.Engine, data []byte, asOf time.Time) map[string][]backtest.CompanyLine {
	t.Helper()
	out := map[string][]backtest.CompanyLine{}
	if err := backtest.RunCompanies(e, bytes.NewReader(data), asOf, func(l backtest.CompanyLine) error {
		out[l.CompanyID] = append(out[l.CompanyID], l)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBrowserPreviewCompanies edits in the preview, in Chromium, first a
// company model itself and then the contact model it rolls up, and holds
// the companies shown as newly crossing and the count of company scores
// that move to `scorer rescore`'s company changes (the backtest's company
// lines under each rule set).
func TestBrowserPreviewCompanies(t *testing.T) {
	f, cur := accountsFixture(t)
	ctx := browser(t)
	open(t, ctx, f.ts.URL+"/preview")
	for _, tc := range []struct{ file, old, new string }{
		{"account_engagement.yaml", "threshold: 80\nrearm_below: 60\n", "threshold: 55\nrearm_below: 40\n"},
		{"engagement.yaml", "points: 2\n", "points: 7\n"},
	} {
		edited := replaced(t, filepath.Join(f.dir, tc.file), tc.old, tc.new)
		do(t, ctx, chromedp.SetValue("#rule-file", tc.file))
		eval[bool](t, ctx, fmt.Sprintf(`(() => { const e = document.querySelector("#rule-text"); e.value = %q; e.dispatchEvent(new Event("input")); return true })()`, edited))
		do(t, ctx, chromedp.Click("#run-preview"))
		wait(t, ctx, `document.querySelector("[data-testid=company-movers]") !== null`)
		want, err := backtest.RescoreCompanies(cur, engineOf(t, editedDir(t, f.dir, tc.file, edited)), func() (io.ReadCloser, error) { return os.Open(f.history) })
		if err != nil {
			t.Fatal(err)
		}
		var newly []string
		for _, c := range want {
			if len(c.NewlyCrosses) > 0 {
				newly = append(newly, c.CompanyID)
			}
		}
		sort.Strings(newly)
		got := texts(t, ctx, `table[data-testid=company-newly][data-model=account_engagement][data-threshold=default] tbody td:first-child`)
		if strings.Join(got, " ") != strings.Join(newly, " ") {
			t.Errorf("%s: companies newly crossing shown %v, rescore %v", tc.file, got, newly)
		}
		if shown := num(text(t, ctx, `[data-testid=company-newly-crossing] .v`)); shown != fmt.Sprint(len(newly)) {
			t.Errorf("%s: companies newly crossing count %s, rescore %d", tc.file, shown, len(newly))
		}
		if n := eval[int](t, ctx, `document.querySelectorAll("table[data-testid=company-movers] tbody tr").length`); n != len(want) || n == 0 {
			t.Errorf("%s: %d company movers shown, rescore %d", tc.file, n, len(want))
		}
		if tc.file == "account_engagement.yaml" {
			if len(newly) == 0 {
				t.Error("lowering the company threshold makes no company newly cross: a weak case")
			}
			shot(t, ctx, "preview-companies")
		}
	}
}
