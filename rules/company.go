package rules

import (
	"sort"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Rollup is how a company model combines its counted contacts' scores.
type Rollup string

// The rollups a company model may use.
const (
	RollupSum     Rollup = "sum"       // the sum of the counted contacts' scores
	RollupMax     Rollup = "max"       // the highest counted score
	RollupAvgTopN Rollup = "avg_top_n" // the mean of the top_n highest (fewer: of those there are)
)

// CompanyModel is an account model: a rule file with `level: company`. It
// scores a company from the current scores its contacts have in the
// contact model From, plus points per buying-group role present.
type CompanyModel struct {
	Name            string
	File            string
	Line            int // of the model key
	From            string
	FromLine        int
	Rollup          Rollup
	TopN            int // for avg_top_n
	MinContactScore Points
	Coverage        *Coverage // nil: no coverage points
	Thresholds      []Threshold
	MaxScore        *Points
	MinScore        *Points
}

// Coverage gives points for each configured role present among a
// company's counted contacts; a contact's role is the value of Property in
// its contact snapshot.
type Coverage struct {
	Property string
	Roles    map[string]Points
}

// Clamp limits a company total to [MinScore, MaxScore].
func (m *CompanyModel) Clamp(p Points) Points { return clamp(p, m.MinScore, m.MaxScore) }

// Company returns the named company model, or nil.
func (s *Set) Company(name string) *CompanyModel {
	for _, m := range s.Companies {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// RoleProperties lists the contact properties the company models read
// roles from, sorted, without repeats.
func (s *Set) RoleProperties() []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range s.Companies {
		if m.Coverage != nil && !seen[m.Coverage.Property] {
			seen[m.Coverage.Property] = true
			out = append(out, m.Coverage.Property)
		}
	}
	sort.Strings(out)
	return out
}

// FromModels lists the contact models the company models roll up, sorted,
// without repeats.
func (s *Set) FromModels() []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range s.Companies {
		if !seen[m.From] {
			seen[m.From] = true
			out = append(out, m.From)
		}
	}
	sort.Strings(out)
	return out
}

// MaxTopN bounds a company model's top_n.
const MaxTopN = 1000

// level reads a rule file's level: "contact" (the default) or "company".
func (l *loader) level(root *yaml.Node) string {
	n := pairValue(root, "level")
	if n == nil {
		return "contact"
	}
	if n.Kind != yaml.ScalarNode || (n.Value != "contact" && n.Value != "company") {
		l.errorf(n.Line, "", "level must be contact or company, got %q", n.Value)
		return ""
	}
	return n.Value
}

// cerrorf reports a problem of a company model; errorf names the model.
func (l *loader) cerrorf(line int, format string, args ...any) {
	l.errorf(line, "", format, args...)
}

func (l *loader) companyNode(root *yaml.Node) *CompanyModel {
	// The model's name first, so that every problem below names it.
	l.company = true
	defer func() { l.company = false }()
	if n := pairValue(root, "model"); n != nil && n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		l.model = n.Value
	}
	f := l.pairs(root, "", "model", "description", "level", "from", "rollup", "top_n", "min_contact_score",
		"coverage", "threshold", "rearm_below", "thresholds", "max_score", "min_score")
	m := &CompanyModel{File: l.file_, Line: root.Line}
	if n := f["model"]; n == nil {
		l.cerrorf(root.Line, "missing required key \"model\"")
	} else {
		m.Name, m.Line = l.str(n, "", "model"), n.Line
	}
	if n := f["description"]; n != nil {
		l.str(n, "", "description")
	}
	if n := f["from"]; n == nil {
		l.cerrorf(root.Line, "missing required key \"from\" (the contact model whose scores it rolls up)")
	} else {
		m.From, m.FromLine = l.str(n, "", "from"), n.Line
	}
	m.Rollup = RollupSum
	if n := f["rollup"]; n != nil {
		switch r := Rollup(n.Value); {
		case n.Kind == yaml.ScalarNode && (r == RollupSum || r == RollupMax || r == RollupAvgTopN):
			m.Rollup = r
		default:
			l.cerrorf(n.Line, "rollup must be sum, max or avg_top_n, got %q", n.Value)
		}
	}
	if n := f["top_n"]; n != nil {
		v, err := strconv.Atoi(n.Value)
		switch {
		case n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil || v < 1 || v > MaxTopN:
			l.cerrorf(n.Line, "top_n must be an integer from 1 to %d, got %q", MaxTopN, n.Value)
		case m.Rollup != RollupAvgTopN:
			l.cerrorf(n.Line, "top_n is for rollup avg_top_n (rollup is %s)", m.Rollup)
		default:
			m.TopN = v
		}
	} else if m.Rollup == RollupAvgTopN {
		l.cerrorf(f["rollup"].Line, "rollup avg_top_n needs top_n")
	}
	if p := l.optPoints(f["min_contact_score"], "", "min_contact_score"); p != nil {
		m.MinContactScore = *p
	}
	m.Coverage = l.coverage(f["coverage"])
	m.MaxScore = l.optPoints(f["max_score"], "", "max_score")
	m.MinScore = l.optPoints(f["min_score"], "", "min_score")
	if m.MaxScore != nil && m.MinScore != nil && *m.MinScore > *m.MaxScore {
		l.cerrorf(f["min_score"].Line, "min_score %s is above max_score %s", FormatPoints(*m.MinScore), FormatPoints(*m.MaxScore))
	}
	m.Thresholds = l.thresholds(f)
	return m
}

func (l *loader) coverage(n *yaml.Node) *Coverage {
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		l.cerrorf(n.Line, "coverage must be a mapping {property, roles}")
		return nil
	}
	f := l.pairs(n, "", "property", "roles")
	c := &Coverage{Roles: map[string]Points{}}
	if p := f["property"]; p == nil {
		l.cerrorf(n.Line, "coverage needs property (the contact property holding the role)")
	} else {
		c.Property = l.str(p, "", "coverage.property")
	}
	r := f["roles"]
	if r == nil || r.Kind != yaml.MappingNode || len(r.Content) == 0 {
		line := n.Line
		if r != nil {
			line = r.Line
		}
		l.cerrorf(line, "coverage needs roles, a mapping of role to points, e.g. {champion: 15}")
		return nil
	}
	for i := 0; i+1 < len(r.Content); i += 2 {
		k, v := r.Content[i], r.Content[i+1]
		if _, dup := c.Roles[k.Value]; dup {
			l.cerrorf(k.Line, "duplicate role %q", k.Value)
			continue
		}
		if p := l.optPoints(v, "", "coverage.roles."+k.Value); p != nil {
			c.Roles[k.Value] = *p
		}
	}
	return c
}

// checkCompanies holds each company model's from to a contact model of the
// set.
func (l *loader) checkCompanies(models []*Model, companies []*CompanyModel) {
	contact := map[string]bool{}
	for _, m := range models {
		contact[m.Name] = true
	}
	company := map[string]bool{}
	for _, c := range companies {
		company[c.Name] = true
	}
	l.company = true
	defer func() { l.company = false }()
	for _, c := range companies {
		l.file_, l.model = c.File, c.Name
		switch {
		case c.From == "" || contact[c.From]:
		case company[c.From]:
			l.cerrorf(c.FromLine, "from %q is a company model: a company model rolls up a contact model", c.From)
		default:
			names := make([]string, 0, len(contact))
			for n := range contact {
				names = append(names, n)
			}
			sort.Strings(names)
			l.cerrorf(c.FromLine, "from %q: no such contact model (contact models: %v)", c.From, names)
		}
	}
}
