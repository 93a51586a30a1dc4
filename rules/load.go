package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/scorebridge/scorebridge/internal/dialect"
	"gopkg.in/yaml.v3"
)

// Limits on a rules path.
const (
	MaxFileBytes      = dialect.MaxFileBytes
	MaxGroupsPerModel = 10_000
)

// Load reads every model under the given paths (files, or directories of
// *.yaml), compiles them and returns the set, or every problem found.
func Load(paths ...string) (*Set, error) {
	files, probs := expand(paths)
	l := &loader{}
	l.problems = probs
	h := sha256.New()
	var models []*Model
	var companies []*CompanyModel
	for _, f := range files {
		data, err := dialect.ReadFile(f)
		if err != nil {
			l.add(Problem{File: f, Msg: err.Error()})
			continue
		}
		m, c := l.file(f, data)
		switch {
		case m != nil:
			models = append(models, m)
			fmt.Fprintf(h, "%s\x00%d\x00", m.Name, len(data))
			h.Write(data)
		case c != nil:
			companies = append(companies, c)
			fmt.Fprintf(h, "company:%s\x00%d\x00", c.Name, len(data))
			h.Write(data)
		}
	}
	seen := map[string]string{}
	for _, m := range models {
		if prev, dup := seen[m.Name]; dup {
			l.add(Problem{File: m.File, Model: m.Name, Msg: fmt.Sprintf("model %q is also defined in %s", m.Name, prev)})
		}
		seen[m.Name] = m.File
	}
	for _, c := range companies {
		if prev, dup := seen[c.Name]; dup {
			l.add(Problem{File: c.File, Line: c.Line, Model: c.Name, Msg: fmt.Sprintf("company model %q: the name is also defined in %s", c.Name, prev)})
		}
		seen[c.Name] = c.File
	}
	l.checkCompanies(models, companies)
	if len(files) == 0 && len(l.problems) == 0 {
		l.add(Problem{File: strings.Join(paths, ", "), Msg: "no rule files (*.yaml) found"})
	}
	if len(l.problems) > 0 {
		return nil, l.sorted()
	}
	sort.Slice(models, func(i, j int) bool { return models[i].Name < models[j].Name })
	sort.Slice(companies, func(i, j int) bool { return companies[i].Name < companies[j].Name })
	return &Set{Models: models, Companies: companies, Version: hex.EncodeToString(h.Sum(nil))[:12]}, nil
}

// Parse loads one contact model from bytes; name is used in problems.
func Parse(name string, data []byte) (*Model, error) {
	l := &loader{}
	m, c := l.file(name, data)
	if c != nil {
		l.errorf(c.Line, "", "a company model (level: company): Parse reads contact models; load it with its contact models")
	}
	if len(l.problems) > 0 {
		return nil, l.sorted()
	}
	return m, nil
}

func expand(paths []string) ([]string, Problems) {
	var files []string
	var probs Problems
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			probs = append(probs, Problem{File: p, Msg: err.Error()})
			continue
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		for _, pat := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(p, pat))
			files = append(files, m...)
		}
	}
	sort.Strings(files)
	return files, probs
}

type loader struct {
	problems Problems
	file_    string
	model    string
	company  bool // in a company model: problems name it
}

func (l *loader) sorted() Problems {
	sort.SliceStable(l.problems, func(i, j int) bool {
		a, b := l.problems[i], l.problems[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return l.problems
}

func (l *loader) add(p Problem) { l.problems = append(l.problems, p) }

func (l *loader) errorf(line int, group, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if l.company && l.model != "" {
		msg = fmt.Sprintf("company model %q: %s", l.model, msg)
	}
	l.add(Problem{File: l.file_, Line: line, Model: l.model, Group: group, Msg: msg})
}

func (l *loader) file(name string, data []byte) (*Model, *CompanyModel) {
	l.file_, l.model = name, ""
	root, probs := dialect.Document(data, false)
	for _, p := range probs {
		if p.Msg == "empty file" {
			p.Msg = "empty rule file"
		}
		if strings.HasPrefix(p.Msg, "more than one") {
			p.Msg += ": one model per file"
		}
		if strings.HasPrefix(p.Msg, "the file must be") {
			p.Msg = "a rule file must be a mapping with model, groups, ..."
		}
		l.errorf(p.Line, "", "%s", p.Msg)
	}
	if root == nil {
		return nil, nil
	}
	switch l.level(root) {
	case "contact":
		return l.modelNode(root), nil
	case "company":
		return nil, l.companyNode(root)
	}
	return nil, nil
}

// pairs walks a mapping's keys, reporting duplicates and unknown keys.
func (l *loader) pairs(n *yaml.Node, group string, known ...string) map[string]*yaml.Node {
	return dialect.Keys(n, func(line int, msg string) { l.errorf(line, group, "%s", msg) }, known...)
}

func (l *loader) modelNode(root *yaml.Node) *Model {
	f := l.pairs(root, "", "model", "description", "level", "threshold", "rearm_below", "thresholds", "max_score", "min_score", "decay", "groups")
	m := &Model{File: l.file_}
	if n := f["model"]; n == nil {
		l.errorf(root.Line, "", "missing required key \"model\"")
	} else if m.Name = l.str(n, "", "model"); m.Name != "" {
		l.model = m.Name
	}
	if n := f["description"]; n != nil {
		l.str(n, "", "description")
	}
	m.MaxScore = l.optPoints(f["max_score"], "", "max_score")
	m.MinScore = l.optPoints(f["min_score"], "", "min_score")
	if m.MaxScore != nil && m.MinScore != nil && *m.MinScore > *m.MaxScore {
		l.errorf(f["min_score"].Line, "", "min_score %s is above max_score %s", FormatPoints(*m.MinScore), FormatPoints(*m.MaxScore))
	}
	m.Thresholds = l.thresholds(f)
	if n := f["decay"]; n != nil {
		if n.Kind != yaml.MappingNode {
			l.errorf(n.Line, "", "decay must be a mapping with half_life")
		} else if d := l.pairs(n, "", "half_life"); d["half_life"] == nil {
			l.errorf(n.Line, "", "decay needs half_life, e.g. 30d")
		} else {
			m.HalfLife = l.duration(d["half_life"], "", "half_life")
		}
	}
	l.groups(m, f["groups"], root.Line)
	return m
}

func (l *loader) thresholds(f map[string]*yaml.Node) []Threshold {
	single, list := f["threshold"], f["thresholds"]
	if single != nil && list != nil {
		l.errorf(list.Line, "", "use threshold (one) or thresholds (several), not both")
		return nil
	}
	if single != nil {
		t := Threshold{Name: "default"}
		if p := l.optPoints(single, "", "threshold"); p != nil {
			t.At = *p
		}
		t.RearmBelow = t.At
		if n := f["rearm_below"]; n != nil {
			if p := l.optPoints(n, "", "rearm_below"); p != nil {
				t.RearmBelow = *p
			}
		}
		l.checkRearm(t, single.Line)
		return []Threshold{t}
	}
	if n := f["rearm_below"]; n != nil {
		l.errorf(n.Line, "", "rearm_below needs threshold (in a thresholds list, give each its own rearm_below)")
	}
	if list == nil {
		return nil
	}
	if list.Kind != yaml.SequenceNode || len(list.Content) == 0 {
		l.errorf(list.Line, "", "thresholds must be a list of {name, score, rearm_below}")
		return nil
	}
	var out []Threshold
	names := map[string]bool{}
	for _, item := range list.Content {
		if item.Kind != yaml.MappingNode {
			l.errorf(item.Line, "", "a threshold must be a mapping {name, score, rearm_below}")
			continue
		}
		tf := l.pairs(item, "", "name", "score", "rearm_below")
		t := Threshold{}
		if tf["name"] == nil {
			l.errorf(item.Line, "", "threshold missing name")
		} else if t.Name = l.str(tf["name"], "", "name"); names[t.Name] {
			l.errorf(tf["name"].Line, "", "duplicate threshold name %q", t.Name)
		}
		names[t.Name] = true
		if tf["score"] == nil {
			l.errorf(item.Line, "", "threshold %q missing score", t.Name)
		} else if p := l.optPoints(tf["score"], "", "score"); p != nil {
			t.At = *p
		}
		t.RearmBelow = t.At
		if p := l.optPoints(tf["rearm_below"], "", "rearm_below"); p != nil {
			t.RearmBelow = *p
		}
		l.checkRearm(t, item.Line)
		out = append(out, t)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At < out[j].At })
	return out
}

func (l *loader) checkRearm(t Threshold, line int) {
	if t.RearmBelow > t.At {
		l.errorf(line, "", "rearm_below %s is above the threshold %s", FormatPoints(t.RearmBelow), FormatPoints(t.At))
	}
}

func (l *loader) groups(m *Model, n *yaml.Node, line int) {
	if n == nil {
		l.errorf(line, "", "missing required key \"groups\"")
		return
	}
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		l.errorf(n.Line, "", "groups must be a non-empty list")
		return
	}
	if len(n.Content) > MaxGroupsPerModel {
		l.errorf(n.Line, "", "%d groups: at most %d per model", len(n.Content), MaxGroupsPerModel)
		return
	}
	names := map[string]int{}
	for i, item := range n.Content {
		g := l.group(item, i)
		if g == nil {
			continue
		}
		if prev, dup := names[g.Name]; dup {
			l.errorf(g.Line, g.Name, "duplicate group name (first at line %d)", prev)
			continue
		}
		names[g.Name] = g.Line
		m.Groups = append(m.Groups, g)
	}
}

func (l *loader) group(n *yaml.Node, i int) *Group {
	if n.Kind != yaml.MappingNode {
		l.errorf(n.Line, "", "group #%d must be a mapping with name, when, points", i+1)
		return nil
	}
	g := &Group{Line: n.Line, Repeatable: true}
	var name string
	if nn := pairValue(n, "name"); nn != nil && nn.Kind == yaml.ScalarNode {
		name = nn.Value
	}
	label := name
	if label == "" {
		label = fmt.Sprintf("#%d", i+1)
	}
	f := l.pairs(n, label, "name", "description", "when", "points", "max", "min", "window", "repeatable")
	if f["name"] == nil {
		l.errorf(n.Line, label, "missing required key \"name\"")
	} else {
		g.Name = l.str(f["name"], label, "name")
	}
	if d := f["description"]; d != nil {
		l.str(d, label, "description")
	}
	if w := f["when"]; w == nil {
		l.errorf(n.Line, label, "missing required key \"when\"")
	} else if w.Kind != yaml.ScalarNode {
		l.errorf(w.Line, label, "when must be an expression string")
	} else {
		g.When = w.Value
		if err := compileWhen(g); err != nil {
			l.errorf(w.Line, label, "%s", dialect.OneLine(err))
		}
	}
	if p := f["points"]; p == nil {
		l.errorf(n.Line, label, "missing required key \"points\"")
	} else if p.Kind != yaml.ScalarNode {
		l.errorf(p.Line, label, "points must be a number or an expression string")
	} else {
		g.Points = p.Value
		num, err := strconv.ParseFloat(p.Value, 64)
		isNum := (p.Tag == "!!int" || p.Tag == "!!float") && err == nil
		if err := compilePoints(g, isNum, num); err != nil {
			l.errorf(p.Line, label, "%s", dialect.OneLine(err))
		}
	}
	g.Max = l.optPoints(f["max"], label, "max")
	g.Min = l.optPoints(f["min"], label, "min")
	if g.Max != nil && g.Min != nil && *g.Min > *g.Max {
		l.errorf(f["min"].Line, label, "min %s is above max %s", FormatPoints(*g.Min), FormatPoints(*g.Max))
	}
	if w := f["window"]; w != nil {
		g.Window = l.duration(w, label, "window")
	}
	if r := f["repeatable"]; r != nil {
		if r.Kind != yaml.ScalarNode || r.Tag != "!!bool" {
			l.errorf(r.Line, label, "repeatable must be true or false")
		} else {
			g.Repeatable = r.Value == "true"
		}
	}
	if g.Name == "" {
		return nil
	}
	return g
}

func pairValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func (l *loader) str(n *yaml.Node, group, key string) string {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" || strings.TrimSpace(n.Value) == "" {
		l.errorf(n.Line, group, "%s must be a non-empty string", key)
		return ""
	}
	return n.Value
}

func (l *loader) optPoints(n *yaml.Node, group, key string) *Points {
	if n == nil {
		return nil
	}
	f, err := strconv.ParseFloat(n.Value, 64)
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || err != nil {
		l.errorf(n.Line, group, "%s must be a number, got %q", key, n.Value)
		return nil
	}
	p, err := ToPoints(f)
	if err != nil {
		l.errorf(n.Line, group, "%s: %v", key, err)
		return nil
	}
	return &p
}

func (l *loader) duration(n *yaml.Node, group, key string) time.Duration {
	if n.Kind != yaml.ScalarNode {
		l.errorf(n.Line, group, "%s must be a duration such as 30d", key)
		return 0
	}
	d, err := dialect.ParseDuration(n.Value)
	if err != nil {
		l.errorf(n.Line, group, "%s: %v", key, err)
	}
	return d
}
