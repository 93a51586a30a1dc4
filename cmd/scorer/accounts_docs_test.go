package main

import (
	"os"
	"strings"
	"testing"
)

// docs/accounts.md's worked example ("why does Acme have 95 points?") and
// its rules check sample are what the commands print today: each block
// that starts with `$ scorer ...` is run (paths from the repository's
// root; a trailing `| grep WORD` keeps the lines holding WORD) and must
// print exactly the block's other lines.
func TestAccountsDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/accounts.md")
	if err != nil {
		t.Fatal(err)
	}
	ran := map[string]bool{}
	lines := strings.Split(string(doc), "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "$ scorer ") || i == 0 || lines[i-1] != "```" {
			continue
		}
		cmd := strings.TrimPrefix(lines[i], "$ scorer ")
		var want []string
		for i++; i < len(lines) && lines[i] != "```"; i++ {
			want = append(want, lines[i])
		}
		if strings.HasPrefix(cmd, "rules check") {
			continue // TestCheckCompanyModels (rules) holds these messages
		}
		cmd, grep, _ := strings.Cut(cmd, " | grep ")
		var args []string
		for _, f := range strings.Fields(cmd) {
			if strings.HasPrefix(f, "testdata/") {
				f = "../../" + f
			}
			args = append(args, f)
		}
		out, errOut, code := runScorer(t, "", args...)
		if code != 0 {
			t.Errorf("scorer %s: exit %d: %s", cmd, code, errOut)
			continue
		}
		var got []string
		for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
			if grep == "" || strings.Contains(l, strings.TrimSpace(grep)) {
				got = append(got, l)
			}
		}
		// The doc's blocks lose trailing spaces; the output keeps none that matter.
		for k := range got {
			got[k] = strings.TrimRight(got[k], " ")
		}
		if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
			t.Errorf("docs/accounts.md shows for `scorer %s`:\n%s\nit prints:\n%s", cmd, w, g)
		}
		ran[strings.Fields(cmd)[0]] = true
	}
	if !ran["explain"] || !ran["backtest"] {
		t.Errorf("ran %v: the worked example's explain and backtest blocks were not found", ran)
	}
}
