package studio

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/scorebridge/scorebridge/calibration"
	"github.com/scorebridge/scorebridge/enrollment"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scorer"
)

const chromium = "/usr/bin/chromium"

// browser starts headless Chromium for one test, or skips the test when
// Debian's chromium is not installed (scripts/test.sh installs it).
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := exec.LookPath(chromium); err != nil {
		t.Skip("browser tests skipped: " + chromium + " is not installed (apt-get install -y chromium; scripts/test.sh does it)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 800),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return bctx
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// open loads a page and waits until its script has rendered (or failed).
func open(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	do(t, ctx, chromedp.Navigate(url))
	wait(t, ctx, `document.body.dataset.ready === "true"`)
}

// wait polls a predicate; a navigation under way ends a poll, so it is
// asked again until the deadline.
func wait(t *testing.T, ctx context.Context, js string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(60*time.Second)))
		if err == nil {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			box, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector("#error") || {}).textContent || ""`))
			t.Fatalf("waiting for %s: %v (error box: %q)", js, err, box)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// shot saves a screenshot of the whole page at 1280x800 and at a phone's
// width under the test's artifact directory (kept with go test -artifacts,
// or copied to STUDIO_SCREENSHOTS when set), and checks that the page
// does not scroll sideways at either width.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	for _, size := range []struct {
		w, h int64
		tag  string
	}{{1280, 800, "desktop"}, {390, 844, "phone"}} {
		do(t, ctx, chromedp.EmulateViewport(size.w, size.h))
		if wide := eval[bool](t, ctx, `document.documentElement.scrollWidth > window.innerWidth + 1`); wide {
			t.Errorf("%s at %dpx: the page scrolls sideways (%d px wide)", name, size.w, eval[int](t, ctx, `document.documentElement.scrollWidth`))
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if len(png) == 0 {
			t.Fatal("empty screenshot")
		}
		file := fmt.Sprintf("%s-%s.png", name, size.tag)
		for _, dir := range []string{t.ArtifactDir(), os.Getenv("STUDIO_SCREENSHOTS")} {
			if dir == "" {
				continue
			}
			if err := os.WriteFile(filepath.Join(dir, file), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	do(t, ctx, chromedp.EmulateViewport(1280, 800))
}

func texts(t *testing.T, ctx context.Context, selector string) []string {
	return eval[[]string](t, ctx, fmt.Sprintf(`[...document.querySelectorAll(%q)].map(e => e.textContent.trim())`, selector))
}

func text(t *testing.T, ctx context.Context, selector string) string {
	return eval[string](t, ctx, fmt.Sprintf(`(document.querySelector(%q) || {textContent: "(missing)"}).textContent.trim()`, selector))
}

func num(s string) string { return strings.ReplaceAll(s, ",", "") }

func TestBrowserOverview(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := browser(t)
	open(t, ctx, f.ts.URL+"/")
	if title := eval[string](t, ctx, `document.title`); title != "Overview - Score Studio" {
		t.Errorf("title %q", title)
	}
	if e := text(t, ctx, "#error"); e != "" {
		t.Fatalf("error shown: %s", e)
	}
	want := expect(f.lines, f.srv.current().set)
	if got := num(text(t, ctx, `[data-testid=contacts] .v`)); got != fmt.Sprint(f.srv.cfg.History.Contacts()) {
		t.Errorf("contacts shown %s", got)
	}
	if got := text(t, ctx, `[data-testid=rules-version] .v`); got != f.srv.current().set.Version {
		t.Errorf("rules version shown %q, want %q", got, f.srv.current().set.Version)
	}
	for _, m := range f.srv.current().set.Models {
		x := want[m.Name]
		sec := fmt.Sprintf(`section[data-model=%q] `, m.Name)
		if got := num(text(t, ctx, sec+`[data-testid=model-contacts] .v`)); got != fmt.Sprint(x.contacts) {
			t.Errorf("%s: contacts shown %s, backtest %d", m.Name, got, x.contacts)
		}
		for _, th := range m.Thresholds {
			for name, w := range map[string]int{"at-or-above": x.atOrAbove[th.Name], "crossed": x.crossed[th.Name], "crossings": x.crossings[th.Name]} {
				got := num(text(t, ctx, fmt.Sprintf(`%s[data-testid=%q][data-threshold=%q]`, sec, name, th.Name)))
				if got != fmt.Sprint(w) {
					t.Errorf("%s/%s %s: shown %s, backtest %d", m.Name, th.Name, name, got, w)
				}
			}
		}
		// The histogram's table adds up to the contacts.
		sum := 0
		for _, c := range texts(t, ctx, sec+`[data-testid=bin]`) {
			var n int
			fmt.Sscan(num(c), &n)
			sum += n
		}
		if sum != x.contacts {
			t.Errorf("%s: histogram shows %d contacts, backtest %d", m.Name, sum, x.contacts)
		}
		if n := eval[int](t, ctx, fmt.Sprintf(`document.querySelectorAll('%ssvg.chart line.th').length`, strings.ReplaceAll(sec, `"`, `\"`))); n < len(m.Thresholds) {
			t.Errorf("%s: %d threshold lines drawn", m.Name, n)
		}
	}
	// Keyboard: the first Tab reaches the skip link, Enter moves to the content.
	do(t, ctx, chromedp.KeyEvent(kb.Tab))
	if got := eval[string](t, ctx, `document.activeElement.textContent`); got != "Skip to content" {
		t.Errorf("first Tab focuses %q", got)
	}
	// Every input has a label.
	if unlabeled := eval[[]string](t, ctx, `[...document.querySelectorAll("input,select,textarea")].filter(e => !(e.labels && e.labels.length) && !e.getAttribute("aria-label")).map(e => e.id)`); len(unlabeled) > 0 {
		t.Errorf("inputs without labels: %v", unlabeled)
	}
	shot(t, ctx, "overview")
	// The contact search, by keyboard.
	var id string
	for _, l := range f.lines {
		if len(l.Crossings) > 0 {
			id = l.ContactID
			break
		}
	}
	do(t, ctx, chromedp.Focus("#contact-id"), chromedp.SendKeys("#contact-id", id+kb.Enter))
	wait(t, ctx, fmt.Sprintf(`location.pathname === "/contacts/%s" && document.body.dataset.ready === "true"`, id))
}

func TestBrowserContact(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := browser(t)
	// The contact with the most crossings: its page has the most to show.
	best := f.lines[0]
	for _, l := range f.lines {
		if len(l.Crossings) > len(best.Crossings) {
			best = l
		}
	}
	open(t, ctx, f.ts.URL+"/contacts/"+best.ContactID)
	if title := eval[string](t, ctx, `document.title`); title != "Contact "+best.ContactID+" - Score Studio" {
		t.Errorf("title %q", title)
	}
	for _, l := range f.lines {
		if l.ContactID != best.ContactID {
			continue
		}
		want, _ := rules.ToPoints(l.Score)
		sec := fmt.Sprintf(`section[data-model=%q] `, l.Model)
		if got := text(t, ctx, fmt.Sprintf(`[data-testid=score][data-model=%q] .v`, l.Model)); got != rules.FormatPoints(want) {
			t.Errorf("%s: score shown %s, backtest %s", l.Model, got, rules.FormatPoints(want))
		}
		var sum rules.Points
		for _, r := range texts(t, ctx, sec+`[data-testid=ledger-row]`) {
			p, err := parsePoints(r)
			if err != nil {
				t.Fatalf("ledger row %q: %v", r, err)
			}
			sum += p
		}
		if sum != want || text(t, ctx, sec+`[data-testid=ledger-total]`) != rules.FormatPoints(want) {
			t.Errorf("%s: the ledger shown adds up to %s, backtest %s", l.Model, rules.FormatPoints(sum), rules.FormatPoints(want))
		}
		if n := eval[int](t, ctx, fmt.Sprintf(`document.querySelectorAll('section[data-model="%s"] svg.chart circle.mark').length`, l.Model)); n != len(l.Crossings) {
			t.Errorf("%s: %d crossing markers, backtest %d crossings", l.Model, n, len(l.Crossings))
		}
	}
	if note := text(t, ctx, `[data-testid=decisions-note]`); !strings.Contains(note, "no bridge configured") {
		t.Errorf("decisions note %q", note)
	}
	shot(t, ctx, "contact")
	// An unknown contact: a clear message, not a blank page.
	open(t, ctx, f.ts.URL+"/contacts/nobody-here")
	if e := text(t, ctx, "#error"); !strings.Contains(e, `no contact "nobody-here" in the history`) {
		t.Errorf("unknown contact shows %q", e)
	}
	shot(t, ctx, "contact-unknown")
}

func TestBrowserPreview(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := browser(t)
	open(t, ctx, f.ts.URL+"/preview")
	if title := eval[string](t, ctx, `document.title`); title != "Preview a change - Score Studio" {
		t.Errorf("title %q", title)
	}
	text35 := demoRequest35(t, f.dir)
	setText := func(s string) {
		do(t, ctx, chromedp.SetValue("#rule-file", "engagement.yaml"))
		eval[bool](t, ctx, fmt.Sprintf(`(() => { const e = document.querySelector("#rule-text"); e.value = %q; e.dispatchEvent(new Event("input")); return true })()`, s))
	}
	// A YAML error: the problem and its line, in the page.
	setText("model: engagement\ngroups:\n  - name: a\n    when: [\n")
	do(t, ctx, chromedp.Click("#run-preview"))
	wait(t, ctx, `document.querySelector("#problems ul.problems") !== null`)
	if p := text(t, ctx, "#problems"); !strings.Contains(p, "engagement.yaml line ") || !strings.Contains(p, "YAML") {
		t.Errorf("YAML problem shown as %q", p)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll(".gutter .bad").length`); n == 0 {
		t.Error("no line marked in the gutter")
	}
	shot(t, ctx, "preview-problem")
	// Demo requests worth 35: the newly crossing list equals the backtest's.
	setText(text35)
	do(t, ctx, chromedp.Focus("#rule-text"), chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(kb.ModifierCtrl)))
	wait(t, ctx, `document.querySelector("[data-testid=movers]") !== null`)
	next := filepath.Join(t.TempDir(), "next")
	os.MkdirAll(next, 0o755)
	os.WriteFile(filepath.Join(next, "engagement.yaml"), []byte(text35), 0o644)
	b, _ := os.ReadFile(filepath.Join(f.dir, "intent.yaml"))
	os.WriteFile(filepath.Join(next, "intent.yaml"), b, 0o644)
	want := newlyCrossing(f.lines, streamBacktest(t, f.data, next), "engagement", "default")
	got := texts(t, ctx, `table[data-testid=newly][data-model=engagement][data-threshold=default] tbody td:first-child`)
	sort.Strings(got)
	if len(want) == 0 || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("newly crossing shown:\n%v\nbacktest:\n%v", got, want)
	}
	if shown := num(text(t, ctx, `[data-testid=newly-crossing] .v`)); shown != fmt.Sprint(len(want)) {
		t.Errorf("newly crossing count shown %s, backtest %d", shown, len(want))
	}
	// Sorting the movers by keyboard.
	do(t, ctx, chromedp.Focus(`table[data-testid=movers] th:nth-child(5) button`), chromedp.KeyEvent(kb.Enter))
	if s := eval[string](t, ctx, `document.querySelector("table[data-testid=movers] th:nth-child(5)").getAttribute("aria-sort")`); s != "descending" {
		t.Errorf("movers sort %q", s)
	}
	shot(t, ctx, "preview")
	// Save where the user says; never over the live rules.
	out := filepath.Join(t.TempDir(), "engagement-v2.yaml")
	do(t, ctx, chromedp.SetValue("#save-path", filepath.Join(f.dir, "engagement.yaml")), chromedp.Click("#save"))
	wait(t, ctx, `document.querySelector("#error").textContent.includes("never writes there")`)
	do(t, ctx, chromedp.SetValue("#save-path", out), chromedp.Click("#save"))
	wait(t, ctx, `document.querySelector("#save-result").textContent.startsWith("Saved")`)
	if b, _ := os.ReadFile(out); string(b) != text35 {
		t.Error("the saved file is not the edited text")
	}
	if b, _ := os.ReadFile(filepath.Join(f.dir, "engagement.yaml")); string(b) == text35 {
		t.Error("the live rules were written")
	}
	// A huge upload: a clear message, nothing sent.
	huge := filepath.Join(t.TempDir(), "huge.yaml")
	os.WriteFile(huge, []byte(strings.Repeat("# padding line\n", 30000)), 0o644)
	do(t, ctx, chromedp.SetUploadFiles("#upload", []string{huge}))
	wait(t, ctx, `document.querySelector("#error").textContent.includes("at most 256 KiB")`)
	shot(t, ctx, "preview-huge-upload")
	// An ordinary upload lands in the editor.
	small := filepath.Join(t.TempDir(), "engagement.yaml")
	os.WriteFile(small, []byte(text35), 0o644)
	do(t, ctx, chromedp.SetUploadFiles("#upload", []string{small}))
	wait(t, ctx, fmt.Sprintf(`document.querySelector("#rule-text").value === %q`, text35))
}

// TestBrowserServices reads the Bridge and Live pages from the services'
// own metric registrations, served as they serve them.
func TestBrowserServices(t *testing.T) {
	breg := prometheus.NewRegistry()
	bm := enrollment.NewServiceMetrics(breg, func() float64 { return 3 })
	bm.Decisions.WithLabelValues("enrolled", "").Add(7)
	bm.Decisions.WithLabelValues("suppressed", "unsubscribed").Add(2)
	bm.Held.Set(4)
	bridge := httptest.NewServer(promhttp.HandlerFor(breg, promhttp.HandlerOpts{}))
	defer bridge.Close()
	sreg := prometheus.NewRegistry()
	sm := scorer.NewMetrics(sreg, func() float64 { return 12 })
	sm.Events.WithLabelValues("scored").Add(1000)
	sm.Crossings.WithLabelValues("engagement", "default").Add(5)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(sreg, promhttp.HandlerOpts{}))
	scorer := httptest.NewServer(mux)
	defer scorer.Close()
	f := newFixture(t, Config{BridgeURL: bridge.URL, ScorerURL: scorer.URL})
	ctx := browser(t)
	open(t, ctx, f.ts.URL+"/bridge")
	if got := text(t, ctx, `[data-testid=held] .v`); got != "4" {
		t.Errorf("held shown %q", got)
	}
	if got := text(t, ctx, `[data-testid=by-outcome] tbody`); !strings.Contains(got, "enrolled7") || !strings.Contains(got, "suppressed2") {
		t.Errorf("decisions by outcome shown %q", got)
	}
	shot(t, ctx, "bridge")
	open(t, ctx, f.ts.URL+"/live")
	wait(t, ctx, `document.querySelector("[data-testid=lag] .v") !== null`)
	if got := text(t, ctx, `[data-testid=lag] .v`); got != "12" {
		t.Errorf("lag shown %q", got)
	}
	sm.Events.WithLabelValues("scored").Add(500)
	wait(t, ctx, `/^[0-9.,]+$/.test(document.querySelector("[data-testid=events-per-second] .v").textContent)`)
	shot(t, ctx, "live")
}

// TestBrowserCalibration: the calibration page shows what `scorer
// calibrate` computes, its simulator's count at the live threshold equals
// the threshold row, and the simulated crossings equal a backtest of the
// rules with that threshold moved.
func TestBrowserCalibration(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := browser(t)
	q, err := calibration.ParseQuery("2026-10-14", "meeting_booked", "14d", 10)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := os.Open(f.history)
	defer in.Close()
	rep, _, _, err := calibration.FromHistory(f.srv.current().engine, in, nil, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	open(t, ctx, f.ts.URL+"/calibration?conversion=meeting_booked&as_of=2026-10-14&window=14d&bands=10")
	if e := text(t, ctx, "#error"); e != "" {
		t.Fatalf("error shown: %s", e)
	}
	for _, m := range rep.Models {
		sec := fmt.Sprintf(`section[data-model=%q] `, m.Model)
		if got := text(t, ctx, sec+`[data-testid=auc] .v`); m.AUC == nil || got != fmt.Sprintf("%.3f", *m.AUC) {
			t.Errorf("%s: AUC shown %s, calibrate %v", m.Model, got, m.AUC)
		}
		th := m.Thresholds[0]
		if got := text(t, ctx, sec+`[data-testid=simulated]`); !strings.Contains(got, fmt.Sprintf(": %d contacts at or above", th.Contacts)) {
			t.Errorf("%s: simulator at %s shows %q, calibrate %d contacts", m.Model, th.Name, got, th.Contacts)
		}
	}
	// Move engagement's threshold to 30 by keyboard (the slider steps by 1).
	do(t, ctx, chromedp.Focus("#sim-engagement"))
	for range 10 {
		do(t, ctx, chromedp.KeyEvent(kb.ArrowLeft))
	}
	if v := eval[string](t, ctx, `document.querySelector("#sim-engagement").value`); v != "30" {
		t.Fatalf("slider at %s", v)
	}
	do(t, ctx, chromedp.Click(`section[data-model="engagement"] button.secondary`))
	wait(t, ctx, `document.querySelector('section[data-model="engagement"] svg.chart') !== null`)
	moved := filepath.Join(t.TempDir(), "moved")
	os.MkdirAll(moved, 0o755)
	b, _ := os.ReadFile(filepath.Join(f.dir, "engagement.yaml"))
	s := strings.Replace(strings.Replace(string(b), "threshold: 40\n", "threshold: 30\n", 1), "rearm_below: 30\n", "rearm_below: 20\n", 1)
	os.WriteFile(filepath.Join(moved, "engagement.yaml"), []byte(s), 0o644)
	n := 0
	for _, l := range streamBacktest(t, f.data, moved) {
		n += len(l.Crossings)
	}
	if got := text(t, ctx, `section[data-model="engagement"] .note:last-of-type`); !strings.Contains(num(got), fmt.Sprintf("%d crossings", n)) {
		t.Errorf("simulated crossings shown %q, backtest %d", got, n)
	}
	shot(t, ctx, "calibration")
}

// TestBrowserReload: every page says which rules are loaded and when; the
// Reload button (by keyboard) serves rules changed on disk; a rule file
// that stops loading shows its problems on the next page load while the
// last good rules stay in force, readable at both widths.
func TestBrowserReload(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := browser(t)
	open(t, ctx, f.ts.URL+"/")
	before := f.srv.current().set.Version
	if got := eval[string](t, ctx, `document.querySelector("#loaded").dataset.version`); got != before {
		t.Fatalf("loaded version shown %q, want %s", got, before)
	}
	eng := filepath.Join(f.dir, "engagement.yaml")
	b, _ := os.ReadFile(eng)
	good := strings.Replace(strings.Replace(string(b), "threshold: 40\n", "threshold: 30\n", 1), "rearm_below: 30\n", "rearm_below: 20\n", 1)
	os.WriteFile(eng, []byte(good), 0o644)
	set, err := rules.Load(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	// The button, by keyboard: the page comes back with the new rules.
	do(t, ctx, chromedp.Focus("#reload"), chromedp.KeyEvent(kb.Enter))
	wait(t, ctx, fmt.Sprintf(`document.body.dataset.ready === "true" && document.querySelector("#loaded").dataset.version === %q`, set.Version))
	if got := text(t, ctx, `[data-testid=rules-version] .v`); got != set.Version {
		t.Errorf("overview shows rules %s after the reload, want %s", got, set.Version)
	}
	if got := text(t, ctx, "#loaded"); !strings.Contains(got, "Rules "+set.Version+" loaded 20") {
		t.Errorf("loaded line %q", got)
	}
	// Broken on disk: the next page load shows the problems, keeps the rules.
	os.WriteFile(eng, []byte("model: engagement\ngroups:\n  - name: a\n    when: [\n"), 0o644)
	open(t, ctx, f.ts.URL+"/preview")
	if got := text(t, ctx, "#reload-problems"); !strings.Contains(got, "engagement.yaml") || !strings.Contains(got, "stay in force") {
		t.Errorf("problems shown %q", got)
	}
	if got := eval[string](t, ctx, `document.querySelector("#loaded").dataset.version`); got != set.Version {
		t.Errorf("the last good rules %s are not in force: %s", set.Version, got)
	}
	shot(t, ctx, "reload-problems")
}
