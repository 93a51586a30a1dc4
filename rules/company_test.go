package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadCompanyModel(t *testing.T) {
	set, err := Load("../testdata/rules-accounts")
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Models) != 2 || len(set.Companies) != 1 {
		t.Fatalf("models %d, companies %d", len(set.Models), len(set.Companies))
	}
	c := set.Company("account_engagement")
	if c == nil || c.From != "engagement" || c.Rollup != RollupSum || c.MinContactScore != 5*Scale {
		t.Fatalf("company model = %+v", c)
	}
	if c.Coverage == nil || c.Coverage.Property != "job_role" || c.Coverage.Roles["economic_buyer"] != 20*Scale || len(c.Coverage.Roles) != 3 {
		t.Errorf("coverage = %+v", c.Coverage)
	}
	if len(c.Thresholds) != 1 || c.Thresholds[0].At != 80*Scale || c.Thresholds[0].RearmBelow != 60*Scale {
		t.Errorf("thresholds = %+v", c.Thresholds)
	}
	if *c.MaxScore != 200*Scale || *c.MinScore != 0 {
		t.Errorf("clamp = %v %v", *c.MinScore, *c.MaxScore)
	}
	if set.Model("account_engagement") != nil {
		t.Error("a company model is among the contact models")
	}
	if got := set.RoleProperties(); len(got) != 1 || got[0] != "job_role" {
		t.Errorf("role properties = %v", got)
	}
	plain, _ := Load("../testdata/rules")
	if plain.Version == set.Version {
		t.Error("adding a company model kept the version")
	}
}

// Every problem of a company model at once, each with file, line and the
// model's name.
func TestCheckCompanyModels(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a_contact.yaml", "model: engagement\nlevel: contact\ngroups:\n  - {name: g, when: 'true', points: 1}\n")
	write("b_bad.yaml", `model: acct
level: company
from: nosuch
rollup: median
top_n: 3
coverage:
  property: job_role
colour: red
`)
	write("c_chain.yaml", "model: acct2\nlevel: company\nfrom: acct\nrollup: avg_top_n\n")
	write("d_level.yaml", "model: x\nlevel: account\ngroups:\n  - {name: g, when: 'true', points: 1}\n")
	write("e_topn.yaml", "model: acct3\nlevel: company\nfrom: engagement\nrollup: avg_top_n\ntop_n: 0\nthreshold: 10\nrearm_below: 20\n")
	write("f_dup.yaml", "model: engagement\nlevel: company\nfrom: engagement\n")
	write("g_cov.yaml", `model: acct5
level: company
from: engagement
coverage:
  roles: {champion: 15, champion: 3, buyer: lots}
min_contact_score: high
max_score: 10
min_score: 20
`)
	write("h_cov.yaml", "model: acct6\nlevel: company\ncoverage: job_role\n")
	_, err := Load(dir)
	ps, ok := err.(Problems)
	if !ok {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		`b_bad.yaml:3: company model "acct": from "nosuch": no such contact model (contact models: [engagement])`,
		`b_bad.yaml:4: company model "acct": rollup must be sum, max or avg_top_n, got "median"`,
		`b_bad.yaml:5: company model "acct": top_n is for rollup avg_top_n (rollup is sum)`,
		`b_bad.yaml:7: company model "acct": coverage needs roles`,
		`b_bad.yaml:8: company model "acct": unknown key "colour"`,
		`c_chain.yaml:3: company model "acct2": from "acct" is a company model: a company model rolls up a contact model`,
		`c_chain.yaml:4: company model "acct2": rollup avg_top_n needs top_n`,
		`d_level.yaml:2: level must be contact or company, got "account"`,
		`e_topn.yaml:5: company model "acct3": top_n must be an integer from 1 to 1000, got "0"`,
		`e_topn.yaml:6: company model "acct3": rearm_below 20 is above the threshold 10`,
		`f_dup.yaml:1: company model "engagement": the name is also defined in`,
		`g_cov.yaml:5: company model "acct5": coverage needs property (the contact property holding the role)`,
		`g_cov.yaml:5: company model "acct5": duplicate role "champion"`,
		`g_cov.yaml:5: company model "acct5": coverage.roles.buyer must be a number, got "lots"`,
		`g_cov.yaml:6: company model "acct5": min_contact_score must be a number, got "high"`,
		`g_cov.yaml:8: company model "acct5": min_score 20 is above max_score 10`,
		`h_cov.yaml:1: company model "acct6": missing required key "from"`,
		`h_cov.yaml:3: company model "acct6": coverage must be a mapping {property, roles}`,
	}
	var got []string
	for _, p := range ps {
		got = append(got, strings.TrimPrefix(p.String(), dir+"/"))
	}
	if len(got) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if i >= len(got) || !strings.HasPrefix(got[i], w) {
			g := "(none)"
			if i < len(got) {
				g = got[i]
			}
			t.Errorf("problem %d:\n got %s\nwant %s", i, g, w)
		}
	}
	// Every problem of a company model's file names the model (the
	// Problem's field, which rules check prints and the studio shows).
	models := map[string]string{"b_bad": "acct", "c_chain": "acct2", "e_topn": "acct3", "g_cov": "acct5", "h_cov": "acct6"}
	for _, p := range ps {
		for file, model := range models {
			if strings.Contains(p.File, file) && p.Model != model {
				t.Errorf("%v: model %q, want %q", p, p.Model, model)
			}
		}
	}
}
