package rules

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/internal/dialect"
)

func TestLoadSample(t *testing.T) {
	set, err := Load("../testdata/rules")
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Models) != 2 || set.Models[0].Name != "engagement" || set.Models[1].Name != "intent" {
		t.Fatalf("models = %v", set.Models)
	}
	if len(set.Version) != 12 {
		t.Errorf("version %q", set.Version)
	}
	again, _ := Load("../testdata/rules/intent.yaml", "../testdata/rules/engagement.yaml")
	if again.Version != set.Version {
		t.Errorf("the version depends on how the paths were given: %s vs %s", again.Version, set.Version)
	}
	e := set.Model("engagement")
	if th := e.Thresholds; len(th) != 1 || th[0].At != 40*Scale || th[0].RearmBelow != 30*Scale || th[0].Name != "default" {
		t.Errorf("thresholds = %+v", th)
	}
	i := set.Model("intent")
	if i.HalfLife != 14*24*time.Hour || len(i.Thresholds) != 2 || i.Thresholds[0].Name != "nurture" {
		t.Errorf("intent = %+v", i)
	}
}

func TestVersionChangesWithContent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.yaml")
	write := func(s string) string {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		set, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		return set.Version
	}
	a := write("model: m\ngroups:\n  - {name: g, when: 'true', points: 1}\n")
	b := write("model: m\ngroups:\n  - {name: g, when: 'true', points: 2}\n")
	if a == b {
		t.Error("changing points kept the version")
	}
}

// Every problem is reported at once, each with file, line and group.
func TestCheckReportsEveryProblem(t *testing.T) {
	src := `model: m
colour: blue
threshold: 10
rearm_below: 20
decay: {half_life: 3y}
groups:
  - name: a
    when: event.type == 5
    points: 1
  - name: a
    when: event.type == "x"
    points: 1
  - name: b
    when: event.type
    points: 1
  - name: c
    when: event.type == "x"
    points: '"ten"'
    window: 0d
  - name: d
    when: event.type == "x"
    points: 1
    repetable: false
  - name: e
    when: nosuch.field > 1
    points: 1
    max: 1
    min: 5
  - when: true
    points: 1
`
	_, err := Parse("bad.yaml", []byte(src))
	ps, ok := err.(Problems)
	if !ok {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		`bad.yaml:2: unknown key "colour"`,
		`bad.yaml:3: rearm_below 20 is above the threshold 10`,
		`bad.yaml:5: half_life: duration "3y": unknown unit "y"`,
		`bad.yaml:8: group "a": when: invalid operation: == (mismatched types string and int)`,
		`bad.yaml:10: group "a": duplicate group name (first at line 7)`,
		`bad.yaml:14: group "b": when: expected bool, but got string`,
		`bad.yaml:18: group "c": points: expression "\"ten\"" does not give a number`,
		`bad.yaml:19: group "c": window: duration "0d": want a positive integer`,
		`bad.yaml:23: group "d": unknown key "repetable"`,
		`bad.yaml:25: group "e": when: unknown name nosuch`,
		`bad.yaml:28: group "e": min 5 is above max 1`,
		`bad.yaml:29: group "#7": missing required key "name"`,
	}
	if len(ps) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(ps), len(want), err)
	}
	for i, w := range want {
		if i >= len(ps) || !strings.HasPrefix(ps[i].String(), w) {
			got := "(none)"
			if i < len(ps) {
				got = ps[i].String()
			}
			t.Errorf("problem %d = %s\nwant prefix %s", i, got, w)
		}
	}
}

func TestLoadProblems(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"a.yaml": "model: same\ngroups:\n  - {name: g, when: 'true', points: 1}\n",
		"b.yaml": "model: same\ngroups:\n  - {name: g, when: 'true', points: 1}\n",
		"c.yaml": "model: [\n",
		"d.yaml": "model: d\n---\nmodel: e\n",
		"e.yaml": "",
	} {
		os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644)
	}
	_, err := Load(dir, filepath.Join(dir, "missing.yaml"))
	msg := err.Error()
	for _, want := range []string{
		`model "same" is also defined in`,
		"c.yaml:1: invalid YAML",
		"d.yaml:2: more than one YAML document",
		`d.yaml:1: missing required key "groups"`,
		"e.yaml: empty rule file",
		"missing.yaml: stat",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("problems lack %q:\n%s", want, msg)
		}
	}
}

func TestDurations(t *testing.T) {
	good := map[string]time.Duration{"30d": 30 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "90s": 90 * time.Second, "5m": 5 * time.Minute, "12h": 12 * time.Hour}
	for s, want := range good {
		if d, err := ParseDuration(s); err != nil || d != want {
			t.Errorf("%s = %v, %v", s, d, err)
		}
		if FormatDuration(want) != s && s != "90s" {
			t.Errorf("FormatDuration(%v) = %s", want, FormatDuration(want))
		}
	}
	for _, s := range []string{"", "d", "30", "-1d", "+1d", "1.5d", "1y", "1 d", "99999999999w"} {
		if _, err := ParseDuration(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestTypeIndex(t *testing.T) {
	cases := []struct {
		when  string
		types string // "" : any type
		pure  bool   // the type alone decides
	}{
		{`event.type == "a"`, "a", true},
		{`"a" == event.type`, "a", true},
		{`event.type in ["a", "b"]`, "a,b", true},
		{`event.type == "a" && event.properties.x > 1`, "a", false},
		{`event.properties.x > 1 && event.type == "a"`, "a", false},
		{`event.type == "a" || event.type == "b"`, "a,b", true},
		{`(event.type == "a" || event.type == "b") && contact.x == "y"`, "a,b", false},
		{`event.type in ["a", "b"] && event.type == "b"`, "b", true},
		{`event.type == "a" && event.type == "b"`, "", true},
		{`event.type == "a" || event.properties.x > 1`, "*", false},
		{`event.type != "a"`, "*", false},
		{`event.properties.kind == "a"`, "*", false},
	}
	for _, tc := range cases {
		g := &Group{When: tc.when}
		if err := compileWhen(g); err != nil {
			t.Fatalf("%s: %v", tc.when, err)
		}
		got := strings.Join(g.Types, ",")
		if g.Types == nil {
			got = "*"
		}
		if got != tc.types || (g.test == nil) != tc.pure {
			t.Errorf("%s: types %q pure %v, want %q %v", tc.when, got, g.test == nil, tc.types, tc.pure)
		}
	}
}

// The residual test must decide exactly as the whole condition does for
// every event whose type the index lets through.
func TestResidualEquivalent(t *testing.T) {
	whens := []string{
		`event.type == "a" && event.properties.x > 1`,
		`event.properties.x > 1 && event.type in ["a", "b"] && contact.tier == "gold"`,
		`(event.type == "a" || event.type == "b") && event.properties.x > 1`,
		`event.type == "a" && (event.properties.x > 1 || contact.tier == "gold")`,
	}
	evals := NewEvaluator()
	for _, w := range whens {
		g := &Group{When: w}
		if err := compileWhen(g); err != nil {
			t.Fatal(err)
		}
		full := &Group{When: w}
		full.test, _ = compileFull(w)
		for _, typ := range g.Types {
			for _, x := range []float64{0, 2} {
				for _, tier := range []string{"gold", "tin"} {
					ev := events.Event{ID: "e", Type: typ, Properties: map[string]any{"x": x}, Contact: map[string]any{"tier": tier}}
					evals.Bind(&ev)
					a, _, errA := evals.Match(g)
					b, _, errB := evals.Match(full)
					if a != b || (errA == nil) != (errB == nil) {
						t.Errorf("%s on %s x=%v tier=%s: indexed %v, full %v", w, typ, x, tier, a, b)
					}
				}
			}
		}
	}
}

func TestExpressionsAreBounded(t *testing.T) {
	long := "model: m\ngroups:\n  - name: g\n    when: '" + strings.Repeat("1 + ", 2000) + "1 > 0'\n    points: 1\n"
	if _, err := Parse("r.yaml", []byte(long)); err == nil {
		t.Error("an expression over the size bound was accepted")
	}
	// Rejected at load: disabled builtins, and growth that needs no input.
	for _, when := range []string{
		"now() > now()",
		`repeat("x", 1000000000) == ""`,
		`toJSON(event) != ""`,
		`len(reduce(1..40, #acc + #acc, "ab")) > 0`,
		`event.type == "t" && len(reduce(1..40, #acc + #acc, "ab")) > 0`,
		`(1..1000000000 | count(# > 0)) > 0`,
		`event.properties.n in 1..1000000`,
	} {
		src := "model: m\ngroups:\n  - name: g\n    when: '" + when + "'\n    points: 1\n"
		if _, err := Parse("r.yaml", []byte(src)); err == nil {
			t.Errorf("%s accepted", when)
		} else if !strings.HasPrefix(err.Error(), `r.yaml:4: group "g": when: `) {
			t.Errorf("%s: %v, want file, line and group", when, err)
		}
	}
	// Growth that depends on the event: an error for that event alone.
	for _, tc := range []struct{ when, points string }{
		{`len(reduce(1..40, #acc + #acc, event.properties.s)) > 0`, "1"},
		{`(1..event.properties.n | count(# > 0)) > 0`, "1"},
		{`event.type == "t"`, `len(reduce(1..40, #acc + #acc, contact.s))`},
		{`len(reduce(1..30, replace(#acc, "a", "aa"), contact.s)) > 0`, "1"},
		{`max(reduce(1..60, [#acc, #acc], event.properties.n)) > 0`, "1"},
	} {
		src := fmt.Sprintf("model: m\ngroups:\n  - name: g\n    when: '%s'\n    points: '%s'\n", tc.when, tc.points)
		m, err := Parse("r.yaml", []byte(src))
		if err != nil {
			t.Errorf("%s: %v", tc.when, err)
			continue
		}
		e := NewEvaluator()
		grow := events.Event{ID: "x", Type: "t", Properties: map[string]any{"s": "ab", "n": 1e9}, Contact: map[string]any{"s": "ab"}}
		for i := 0; i < 2; i++ { // the scorer goes on: the next event meets the same bound, no worse
			e.Bind(&grow)
			ok, _, err := e.Match(m.Groups[0])
			if ok || !dialect.IsLimit(err) {
				t.Errorf("%s / %s: %v %v, want a limit error", tc.when, tc.points, ok, err)
			}
		}
	}
}

func TestPointsExpression(t *testing.T) {
	m, err := Parse("r.yaml", []byte("model: m\ngroups:\n  - name: g\n    when: event.type == \"call\"\n    points: 'event.properties.minutes >= 45 ? 12 : 6'\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := NewEvaluator()
	for _, tc := range []struct {
		minutes any
		want    Points
		err     bool
	}{{50.0, 12 * Scale, false}, {10.0, 6 * Scale, false}, {nil, 0, true}, {"long", 0, true}} {
		e.Bind(&events.Event{ID: "x", Type: "call", Properties: map[string]any{"minutes": tc.minutes}})
		ok, p, err := e.Match(m.Groups[0])
		if (err != nil) != tc.err || p != tc.want || ok == tc.err {
			t.Errorf("minutes=%v: %v %d %v", tc.minutes, ok, p, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"../testdata/rules/engagement.yaml", "../testdata/rules/intent.yaml"} {
		data, _ := os.ReadFile(p)
		f.Add(data)
	}
	f.Add([]byte("model: m\ngroups:\n  - {name: g, when: 'event.properties.a.b.c > 1', points: -1e300}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse("fuzz.yaml", data)
		if err == nil && (m == nil || m.Name == "" || len(m.Groups) == 0) {
			t.Fatalf("accepted an incomplete model: %+v", m)
		}
		if err != nil && err.Error() == "" {
			t.Fatal("empty error")
		}
	})
}

// A `when` must be able to give true or false, and `points` a number,
// whatever expr's type check can know of dynamic operands.
func TestExpressionShape(t *testing.T) {
	rule := func(when, points string) string {
		return fmt.Sprintf("model: m\ngroups:\n  - name: g\n    when: '%s'\n    points: '%s'\n", when, points)
	}
	bad := []struct{ when, points, line, msg string }{
		{`event.properties.minutes + 1`, "1", "4", "arithmetic"},
		{`contact.a * contact.b`, "1", "4", "arithmetic"},
		{`event.properties.a - event.properties.b`, "1", "4", "arithmetic"},
		{`contact.name + event.properties.suffix`, "1", "4", "arithmetic or string concatenation"},
		{`-event.properties.n`, "1", "4", "arithmetic"},
		{`(contact.x + 1) ?? (contact.y + 1)`, "1", "4", "arithmetic"},
		{`contact.vip ? contact.a + 1 : contact.b * 2`, "1", "4", "ternary"},
		{`5`, "1", "4", "expected bool"},
		{`"yes"`, "1", "4", "expected bool"},
		{`"prefix-" + contact.name`, "1", "4", "string concatenation"},
		// expr's type check catches these already.
		{`contact.vip ? 1 : 2`, "1", "4", "expected bool"},
		{`len(contact.tags)`, "1", "4", "expected bool"},
		{`let x = contact.n; x - 1`, "1", "4", "arithmetic"},
		{`event.type == "t"`, `"a" + event.properties.x`, "5", "a string"},
		{`event.type == "t"`, `event.properties.x ? "a" : true`, "5", "ternary"},
		{`event.type == "t"`, `!event.properties.x`, "5", "does not give a number"},
		{`event.type == "t"`, `event.properties.x > 3`, "5", "number"},
		{`event.type == "t"`, `("n/" + event.properties.x) ?? "none"`, "5", "a string"},
		{`event.type == "t"`, `event.properties.x in ["a"]`, "5", "does not give a number"},
		{`event.type == "t"`, `event.properties.x ? "a" + contact.b : contact.c == 1`, "5", "ternary"},
		{`event.type == "t"`, `upper(contact.name)`, "5", "number"},
	}
	for _, tc := range bad {
		_, err := Parse("r.yaml", []byte(rule(tc.when, tc.points)))
		if err == nil {
			t.Errorf("when %s, points %s: accepted", tc.when, tc.points)
			continue
		}
		want := `r.yaml:` + tc.line + `: group "g": `
		if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("when %s, points %s: %v; want %q...%q", tc.when, tc.points, err, want, tc.msg)
		}
	}
	good := []struct {
		when, points string
		props        map[string]any
		match        bool
		want         Points
	}{
		{`event.properties.flag`, "1", map[string]any{"flag": true}, true, Scale},
		{`event.properties.flag ?? false`, "1", map[string]any{}, false, 0},
		{`event.properties.n > 1 ? event.properties.a : event.properties.b == 2`, "1", map[string]any{"n": 0.0, "b": 2.0}, true, Scale},
		{`event.properties.vip ? true : false`, "1", map[string]any{"vip": true}, true, Scale},
		{`let x = event.properties.n; x > 1`, "1", map[string]any{"n": 2.0}, true, Scale},
		{`event.type == "t"`, `event.properties.n ?? 1`, map[string]any{}, true, Scale},
		{`event.type == "t"`, `event.properties.n + 1`, map[string]any{"n": 2.0}, true, 3 * Scale},
		{`event.type == "t"`, `event.properties.vip ? 5 : event.properties.n`, map[string]any{"vip": false, "n": 4.0}, true, 4 * Scale},
		{`event.type == "t"`, `-event.properties.n`, map[string]any{"n": 4.0}, true, -4 * Scale},
		{`event.type == "t"`, `len(event.properties.tags)`, map[string]any{"tags": []any{"a", "b"}}, true, 2 * Scale},
	}
	e := NewEvaluator()
	for _, tc := range good {
		m, err := Parse("r.yaml", []byte(rule(tc.when, tc.points)))
		if err != nil {
			t.Errorf("when %s, points %s: %v", tc.when, tc.points, err)
			continue
		}
		e.Bind(&events.Event{ID: "e", Type: "t", Properties: tc.props})
		ok, p, err := e.Match(m.Groups[0])
		if err != nil || ok != tc.match || p != tc.want {
			t.Errorf("when %s, points %s: %v %v %v; want %v %v", tc.when, tc.points, ok, p, err, tc.match, tc.want)
		}
	}
}
