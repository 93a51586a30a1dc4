package dialect

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// MaxFileBytes bounds a configuration or rule file.
const MaxFileBytes = 8 << 20

// Problem is one thing wrong with a configuration file, at a line (0: the
// file as a whole).
type Problem struct {
	File string
	Line int
	Msg  string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return p.File + ": " + p.Msg
}

// Problems is every problem of a file, returned as one error so that an
// operator fixes them all in one pass.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Sort orders problems by file, then line, keeping the order of a line's.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		return ps[i].Line < ps[j].Line
	})
}

// ReadFile reads a configuration file of at most MaxFileBytes.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("file is over %d bytes", MaxFileBytes)
	}
	return data, nil
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// lineOf splits yaml.v3's "line N: message" into its parts.
func lineOf(msg string) (int, string) {
	msg = strings.TrimPrefix(msg, "yaml: ")
	if g := yamlLine.FindStringSubmatch(msg); g != nil {
		n, _ := strconv.Atoi(g[1])
		return n, g[2]
	}
	return 0, msg
}

// Document parses data as one YAML document whose root is a mapping, and
// returns that mapping. An empty document is an empty mapping when
// allowEmpty, a problem otherwise.
func Document(data []byte, allowEmpty bool) (*yaml.Node, []Problem) {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			if allowEmpty {
				return &yaml.Node{Kind: yaml.MappingNode, Line: 1}, nil
			}
			return nil, []Problem{{Msg: "empty file"}}
		}
		line, msg := lineOf(err.Error())
		return nil, []Problem{{Line: line, Msg: "invalid YAML: " + msg}}
	}
	var probs []Problem
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		probs = append(probs, Problem{Line: extra.Line, Msg: "more than one YAML document"})
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, append(probs, Problem{Line: root.Line, Msg: "the file must be a mapping of keys"})
	}
	return root, probs
}

// Keys walks a mapping's keys and values, reporting duplicate and unknown
// keys (with the known ones) at their lines.
func Keys(n *yaml.Node, report func(line int, msg string), known ...string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case !contains(known, k.Value):
			report(k.Line, fmt.Sprintf("unknown key %q (known: %s)", k.Value, strings.Join(known, ", ")))
		case out[k.Value] != nil:
			report(k.Line, fmt.Sprintf("duplicate key %q", k.Value))
		default:
			out[k.Value] = v
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Decode fills out (a pointer to a struct with yaml tags) from root,
// strictly: unknown and duplicate keys anywhere in the tree, and values of
// the wrong type, are problems at their lines, all of them.
func Decode(root *yaml.Node, out any) []Problem {
	var probs []Problem
	report := func(path string) func(int, string) {
		return func(line int, msg string) {
			if path != "" {
				msg = path + ": " + msg
			}
			probs = append(probs, Problem{Line: line, Msg: msg})
		}
	}
	strict(root, reflect.TypeOf(out).Elem(), "", report)
	if err := root.Decode(out); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			line, msg := lineOf(err.Error())
			return append(probs, Problem{Line: line, Msg: msg})
		}
		for _, m := range te.Errors {
			line, msg := lineOf(m)
			if dupKey.MatchString(msg) {
				continue // strict reported it, with the path
			}
			probs = append(probs, Problem{Line: line, Msg: msg})
		}
	}
	Problems(probs).Sort()
	return probs
}

var dupKey = regexp.MustCompile(`^mapping key ".*" already defined at line \d+$`)

// strict checks the keys of n against t's yaml fields, and recurses.
func strict(n *yaml.Node, t reflect.Type, path string, report func(string) func(int, string)) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.ScalarNode && t == durationType:
		duration(n, report(path))
	case n.Kind == yaml.SequenceNode && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for i, item := range n.Content {
			strict(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), report)
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		fields := map[string]reflect.Type{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" || name == "" {
				continue
			}
			fields[name] = f.Type
			names = append(names, name)
		}
		vals := Keys(n, report(path), names...)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if v := vals[k]; v == n.Content[i+1] {
				sub := k
				if path != "" {
					sub = path + "." + k
				}
				strict(v, fields[k], sub, report)
			}
		}
	}
}

var durationType = reflect.TypeOf(time.Duration(0))

// duration reads a time.Duration field's value in the dialect's syntax
// (7d, 1w, 500ms; 0 of any unit is zero) and rewrites it in Go's, which
// yaml.v3 decodes such a field from; a bad one is a problem at its line.
func duration(n *yaml.Node, report func(int, string)) {
	if n.Tag == "!!null" {
		return
	}
	if isZero(n.Value) {
		n.Value, n.Tag = "0s", "!!str"
		return
	}
	d, err := ParseDuration(n.Value)
	if err != nil {
		report(n.Line, err.Error())
		d = 0 // reported here; not again by the decoder
	}
	n.Value, n.Tag = d.String(), "!!str"
}
