package main

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/backtest"

	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
)

const accountRules = "../../testdata/rules-accounts"
const acme = "../../testdata/events/acme.jsonl"

// The worked example of docs/accounts.md: why Acme has 95 points.
func TestExplainCompanyGolden(t *testing.T) {
	out, errOut, code := runScorer(t, "", "explain", "--rules", accountRules, "--events", acme, "--company", "acme")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "explain-company-acme.txt", out)
	if _, errOut, code := runScorer(t, "", "explain", "--rules", accountRules, "--events", acme, "--company", "nosuch"); code == 0 || !strings.Contains(errOut, `no event names company "nosuch"`) {
		t.Errorf("unknown company: exit %d, %q", code, errOut)
	}
	if _, errOut, code := runScorer(t, "", "explain", "--rules", rulesDir, "--events", acme, "--company", "acme"); code == 0 || !strings.Contains(errOut, "no company model") {
		t.Errorf("no company model: exit %d, %q", code, errOut)
	}
}

// Company lines follow the contact lines, from a file or from stdin, and
// say what the reference says for the same events.
func TestBacktestCompanyLines(t *testing.T) {
	out, errOut, code := runScorer(t, "", "backtest", "--rules", accountRules, "--events", acme)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "backtest-accounts.jsonl", out)
	data, _ := os.ReadFile(acme)
	fromStdin, _, _ := runScorer(t, string(data), "backtest", "--rules", accountRules, "--events", "-")
	if fromStdin != out {
		t.Error("stdin gave other lines than the file")
	}

	sample, _ := os.ReadFile("../../testdata/events/sample.jsonl")
	out, _, code = runScorer(t, string(sample), "backtest", "--rules", accountRules, "--events", "-")
	if code != 0 {
		t.Fatal("backtest failed")
	}
	var evs []events.Event
	for _, l := range strings.Split(strings.TrimSpace(string(sample)), "\n") {
		if ev, err := events.Decode([]byte(l)); err == nil {
			evs = append(evs, ev)
		}
	}
	set, err := rules.Load(accountRules)
	if err != nil {
		t.Fatal(err)
	}
	want := accounts.Companies(set, evs)
	var got []map[string]any
	seenCompany := false
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if _, ok := m["company_id"]; ok {
			seenCompany = true
			got = append(got, m)
		} else if seenCompany {
			t.Fatal("a contact line after a company line")
		}
	}
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("%d company lines, reference has %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		var cov []string
		for _, r := range g["coverage"].([]any) {
			cov = append(cov, r.(string))
		}
		sort.Strings(cov)
		if g["company_id"] != w.CompanyID || g["score"].(float64) != rules.Float(w.Score) || len(g["contacts"].(map[string]any)) != len(w.Contacts) || strings.Join(cov, ",") != strings.Join(w.Coverage, ",") {
			t.Errorf("line %d = %v, reference %+v", i, g, w)
		}
	}
}

// rescore reports company score changes: lowering min_contact_score lets
// carol (4 points, technical evaluator) count: +4 and +10 coverage.
func TestRescoreCompanies(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"engagement.yaml", "intent.yaml", "account_engagement.yaml"} {
		data, err := os.ReadFile(accountRules + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		src := strings.Replace(string(data), "min_contact_score: 5", "min_contact_score: 3", 1)
		if err := os.WriteFile(dir+"/"+name, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := runScorer(t, "", "rescore", "--current", accountRules, "--rules", dir, "--events", acme, "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		json.Unmarshal([]byte(l), &m)
		if m["company_id"] != nil {
			got = append(got, m)
		}
	}
	if len(got) != 1 || got[0]["company_id"] != "acme" || got[0]["old"].(float64) != 95 || got[0]["new"].(float64) != 109 || got[0]["delta"].(float64) != 14 {
		t.Errorf("company changes %v", got)
	}
	table, _, _ := runScorer(t, "", "rescore", "--current", accountRules, "--rules", dir, "--events", acme)
	if !strings.Contains(table, "company models: 1 (company, model) pairs change") {
		t.Errorf("table:\n%s", table)
	}
}

// explained reads `explain --company` back: per company model its score,
// each member's score and the crossing times.
func explained(t *testing.T, text string) map[string]backtest.CompanyLine {
	t.Helper()
	out := map[string]backtest.CompanyLine{}
	model := regexp.MustCompile(`^(\S+): (-?[\d.]+) points \(company model`)
	member := regexp.MustCompile(`^  (\S+)(?: \([a-z_]+\))?\s+(?:(-?[\d.]+)|not counted.*\((-?[\d.]+)\)|counted for coverage.*\((-?[\d.]+)\))$`)
	crossed := regexp.MustCompile(`crossed (\S+) by`)
	var cur string
	for _, l := range strings.Split(text, "\n") {
		if m := model.FindStringSubmatch(l); m != nil {
			cur = m[1]
			score, _ := strconv.ParseFloat(m[2], 64)
			out[cur] = backtest.CompanyLine{Model: cur, Score: score, Contacts: map[string]float64{}}
			continue
		}
		if cur == "" {
			continue
		}
		if m := member.FindStringSubmatch(l); m != nil && m[1] != "rollup:" && m[1] != "coverage:" && m[1] != "score" {
			score, _ := strconv.ParseFloat(m[2]+m[3]+m[4], 64)
			out[cur].Contacts[m[1]] = score
		}
		if strings.HasPrefix(l, "  threshold ") {
			cl := out[cur]
			for _, m := range crossed.FindAllStringSubmatch(l, -1) {
				at, _ := time.Parse(time.RFC3339, m[1])
				cl.Crossings = append(cl.Crossings, at)
			}
			out[cur] = cl
		}
	}
	return out
}

// `explain --company ID --as-of T` says what `backtest --as-of T` says of
// the company: each model's score, every member's score and the
// crossings until T (and not those after).
func TestExplainCompanyAsOf(t *testing.T) {
	for _, at := range []string{"", "2026-11-02T10:30:00Z", "2026-11-03T12:00:00Z", "2026-11-04", "2026-11-06T00:00:00Z"} {
		args := []string{"--rules", accountRules, "--events", acme}
		if at != "" {
			args = append(args, "--as-of", at)
		}
		out, errOut, code := runScorer(t, "", append([]string{"explain", "--company", "acme"}, args...)...)
		if code != 0 {
			t.Fatalf("explain as of %q: exit %d: %s", at, code, errOut)
		}
		if at != "" && !strings.Contains(out, "company acme as of ") {
			t.Errorf("as of %q: the explanation does not say its time:\n%s", at, out)
		}
		lines, errOut, code := runScorer(t, "", append([]string{"backtest"}, args...)...)
		if code != 0 {
			t.Fatalf("backtest as of %q: exit %d: %s", at, code, errOut)
		}
		got := explained(t, out)
		n := 0
		for _, l := range strings.Split(strings.TrimSpace(lines), "\n") {
			var want backtest.CompanyLine
			if json.Unmarshal([]byte(l), &want); want.CompanyID != "acme" {
				continue
			}
			n++
			g := got[want.Model]
			if g.Score != want.Score || !reflect.DeepEqual(g.Contacts, want.Contacts) || len(g.Crossings) != len(want.Crossings) {
				t.Errorf("as of %q, %s: explain says %v points, members %v, crossings %v; backtest %v, %v, %v\n%s", at, want.Model, g.Score, g.Contacts, g.Crossings, want.Score, want.Contacts, want.Crossings, out)
				continue
			}
			for i := range want.Crossings {
				if !g.Crossings[i].Equal(want.Crossings[i]) {
					t.Errorf("as of %q, %s: crossing %d at %v, backtest %v", at, want.Model, i, g.Crossings[i], want.Crossings[i])
				}
			}
		}
		if n == 0 {
			t.Fatalf("as of %q: no company line for acme", at)
		}
	}
	if _, errOut, code := runScorer(t, "", "explain", "--rules", accountRules, "--events", acme, "--company", "acme", "--as-of", "2026-10-01"); code == 0 || !strings.Contains(errOut, `company "acme" has no members as of 2026-10-01T00:00:00Z`) {
		t.Errorf("before the first member: exit %d, %q", code, errOut)
	}
}
