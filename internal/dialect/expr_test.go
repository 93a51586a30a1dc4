package dialect

import (
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr"
)

type testEnv struct {
	Contact map[string]any `expr:"contact"`
	Name    string         `expr:"name"`
	Meter   `expr:"-"`
}

func TestCompileRejectsGrowthWithoutInput(t *testing.T) {
	for _, src := range []string{
		`len(reduce(1..40, #acc + #acc, "ab")) > 0`,
		`contact.x == 1 || len(reduce(1..40, #acc + #acc, "ab")) > 0`,
		`let s = "abcdefgh"; len(reduce(1..30, #acc + #acc, s)) > 0`,
		`len(reduce(1..30, replace(#acc, "a", "aa"), "aaaa")) > 0`,
		`len(reduce(1..30, join([#acc, #acc]), "ab")) > 0`,
		`len(string(reduce(1..40, [#acc, #acc], 1))) > 0`,
		`max(reduce(1..60, [#acc, #acc], 1)) > 0`,
		`len(flatten(reduce(1..60, [#acc, #acc], 1))) > 0`,
		`count(1..1000000000, # > 0) > 0`,
		`contact.x in 1..200000`,
	} {
		if _, err := Compile(src, testEnv{}, expr.AsBool()); err == nil {
			t.Errorf("%s: compiled, want a bound error", src)
		} else if !strings.Contains(err.Error(), "bound") && !strings.Contains(err.Error(), "at most") {
			t.Errorf("%s: %v, want a bound error", src, err)
		}
	}
}

func TestRunBoundsGrowthFromInput(t *testing.T) {
	for _, src := range []string{
		`len(reduce(1..40, #acc + #acc, contact.s)) > 0`,
		`len(reduce(1..40, #acc + #acc, name)) > 0`,
		`len(reduce(1..30, replace(#acc, "a", "aa"), contact.s)) > 0`,
		`len(reduce(1..30, join([#acc, #acc]), contact.s)) > 0`,
		`len(string(reduce(1..40, [#acc, #acc], contact.s))) > 0`,
		`max(reduce(1..60, [#acc, #acc], contact.n)) > 0`,
		`median(reduce(1..60, [#acc, #acc], contact.n)) > 0`,
		`len(flatten(reduce(1..60, [#acc, #acc], contact.n))) > 0`,
		`count(1..contact.n * 1000000000, # > 0) > 0`,
		// Each result is small; together they are not.
		`len(reduce(1..5000, #acc + contact.big, "")) > 0`,
		`count(1..5000, len(contact.big + contact.big) > 0) == 5000`,
	} {
		t.Run(src, func(t *testing.T) {
			p, err := Compile(src, testEnv{}, expr.AsBool())
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			env := &testEnv{Name: "ab", Contact: map[string]any{"s": "ab", "n": 1, "big": strings.Repeat("x", 1000)}}
			start := time.Now()
			_, err = Run(p, env)
			if !IsLimit(err) {
				t.Fatalf("run: %v, want a limit error", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestPolicyKeepsOrdinaryExpressions(t *testing.T) {
	env := &testEnv{Name: "ann", Contact: map[string]any{"n": 3, "s": "x", "tags": []any{"a", "b"}}}
	for src, want := range map[string]any{
		`1 + 2`:                              3,
		`1.5 + contact.n`:                    4.5,
		`name + "-" + contact.s`:             "ann-x",
		`replace(name, "n", "N")`:            "aNN",
		`join(contact.tags, ",")`:            "a,b",
		`string(contact.n)`:                  "3",
		`max(contact.n, 7)`:                  7,
		`min([4, contact.n, 9])`:             3,
		`upper(name) == "ANN"`:               true,
		`contact.n in 1..10`:                 true,
		`sum(1..100)`:                        5050,
		`len(reduce(1..10, #acc + "a", ""))`: 10,
		`contact.n + contact.n > 5`:          true,
		`contact.s + contact.s == "xx"`:      true,
	} {
		p, err := Compile(src, testEnv{})
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		got, err := Run(p, env)
		if err != nil || got != want {
			t.Errorf("%s = %v (%T), %v; want %v", src, got, got, err, want)
		}
	}
}

func TestPolicyKeepsStaticTypes(t *testing.T) {
	for _, src := range []string{`name + "x" == 5`, `name + 1`} {
		if _, err := Compile(src, testEnv{}); err == nil {
			t.Errorf("%s compiled, want a type error", src)
		}
	}
}

func TestDisabledBuiltins(t *testing.T) {
	for _, name := range Disabled {
		src := name + `("x")`
		if name == "now" {
			src = "now()"
		}
		if _, err := Compile(src, testEnv{}); err == nil {
			t.Errorf("%s compiled", src)
		}
	}
}

func TestMeterResets(t *testing.T) {
	p, err := Compile(`len(contact.big + contact.big)`, testEnv{})
	if err != nil {
		t.Fatal(err)
	}
	env := &testEnv{Contact: map[string]any{"big": strings.Repeat("x", MaxStringBytes/4)}}
	for i := 0; i < 3; i++ {
		env.Reset()
		if _, err := Run(p, env); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	if _, err := Run(p, env); err != nil {
		t.Fatalf("%v", err)
	}
	if _, err := Run(p, env); !IsLimit(err) {
		t.Fatalf("without Reset the meter accumulates: %v", err)
	}
}
