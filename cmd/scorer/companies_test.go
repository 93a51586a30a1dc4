package main

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
)

const accountRules = "../../testdata/rules-accounts"
const acme = "../../testdata/events/acme.jsonl"

// The worked example of docs/accounts.md: why Acme has 95 points.
func TestExplainCompanyGolden(t *testing.T) {
	out, errOut, code := scorer(t, "", "explain", "--rules", accountRules, "--events", acme, "--company", "acme")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "explain-company-acme.txt", out)
	if _, errOut, code := scorer(t, "", "explain", "--rules", accountRules, "--events", acme, "--company", "nosuch"); code == 0 || !strings.Contains(errOut, `no event names company "nosuch"`) {
		t.Errorf("unknown company: exit %d, %q", code, errOut)
	}
	if _, errOut, code := scorer(t, "", "explain", "--rules", rulesDir, "--events", acme, "--company", "acme"); code == 0 || !strings.Contains(errOut, "no company model") {
		t.Errorf("no company model: exit %d, %q", code, errOut)
	}
}

// Company lines follow the contact lines, from a file or from stdin, and
// say what the reference says for the same events.
func TestBacktestCompanyLines(t *testing.T) {
	out, errOut, code := scorer(t, "", "backtest", "--rules", accountRules, "--events", acme)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "backtest-accounts.jsonl", out)
	data, _ := os.ReadFile(acme)
	fromStdin, _, _ := scorer(t, string(data), "backtest", "--rules", accountRules, "--events", "-")
	if fromStdin != out {
		t.Error("stdin gave other lines than the file")
	}

	sample, _ := os.ReadFile("../../testdata/events/sample.jsonl")
	out, _, code = scorer(t, string(sample), "backtest", "--rules", accountRules, "--events", "-")
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
	out, errOut, code := scorer(t, "", "rescore", "--current", accountRules, "--rules", dir, "--events", acme, "--format", "json")
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
	table, _, _ := scorer(t, "", "rescore", "--current", accountRules, "--rules", dir, "--events", acme)
	if !strings.Contains(table, "company models: 1 (company, model) pairs change") {
		t.Errorf("table:\n%s", table)
	}
}
