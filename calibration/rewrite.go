package calibration

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// RewritePoints returns src with the `points:` value of each named group
// replaced by edits[name], byte for byte identical elsewhere: comments,
// order, quoting and spacing stay as the author wrote them. Only plain
// scalars (numbers) are replaced.
func RewritePoints(src []byte, edits map[string]string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	groups := value(root, "groups")
	if groups == nil || groups.Kind != yaml.SequenceNode {
		return nil, errors.New("no groups list")
	}
	lines := bytes.SplitAfter(src, []byte("\n"))
	type edit struct {
		line, col int
		old, new  string
	}
	var todo []edit
	done := map[string]bool{}
	for _, g := range groups.Content {
		name := value(g, "name")
		if name == nil {
			continue
		}
		nv, ok := edits[name.Value]
		if !ok {
			continue
		}
		p := value(g, "points")
		if p == nil || p.Kind != yaml.ScalarNode || p.Style != 0 {
			return nil, fmt.Errorf("line %d: group %s: points are not a plain number", g.Line, name.Value)
		}
		l := lines[p.Line-1]
		if c := p.Column - 1; c+len(p.Value) > len(l) || string(l[c:c+len(p.Value)]) != p.Value {
			return nil, fmt.Errorf("line %d: group %s: cannot find the points %q on their line", p.Line, name.Value, p.Value)
		}
		todo = append(todo, edit{p.Line - 1, p.Column - 1, p.Value, nv})
		done[name.Value] = true
	}
	var missing []string
	for name := range edits {
		if !done[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("groups not found: %s", strings.Join(missing, ", "))
	}
	// Right to left, so earlier columns on a line (flow style) stay valid.
	sort.Slice(todo, func(i, j int) bool {
		if todo[i].line != todo[j].line {
			return todo[i].line < todo[j].line
		}
		return todo[i].col > todo[j].col
	})
	for _, e := range todo {
		l := lines[e.line]
		lines[e.line] = append(append(append([]byte{}, l[:e.col]...), e.new...), l[e.col+len(e.old):]...)
	}
	return bytes.Join(lines, nil), nil
}

func value(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
