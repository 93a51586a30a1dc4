package rules

import (
	"runtime"
	"testing"

	"github.com/scorebridge/scorebridge/events"
	"gopkg.in/yaml.v3"
)

// FuzzLoadGrowth loads rule files whose expressions are shaped to grow
// (doubling strings and lists, long ranges, nested walks) and evaluates
// what loads: loading never fails but with problems, and an evaluation
// ends in a result or an error within the dialect's bounds, never by
// exhausting memory.
func FuzzLoadGrowth(f *testing.F) {
	for _, seed := range [][2]string{
		{`len(reduce(1..40, #acc + #acc, "ab")) > 0`, "1"},
		{`len(reduce(1..40, #acc + #acc, event.properties.s)) > 0`, "1"},
		{`event.type == "t"`, `len(reduce(1..40, #acc + #acc, contact.s))`},
		{`len(reduce(1..30, replace(#acc, "a", "aa"), contact.s)) > 0`, "1"},
		{`len(reduce(1..30, join([#acc, #acc, #acc]), contact.s)) > 0`, "1"},
		{`len(string(reduce(1..40, [#acc, #acc], event.properties.n))) > 0`, "1"},
		{`max(reduce(1..60, [#acc, #acc], event.properties.n)) > 0`, "1"},
		{`mean(flatten(reduce(1..60, [#acc, #acc], 1))) > 0`, "1"},
		{`(1..event.properties.n | count(# > 0)) > 0`, "1"},
		{`let a = contact.s + contact.s; let b = a + a; let c = b + b; len(c + c) > 0`, "1"},
		{`len(reduce(1..1000, {"a": #acc, "b": #acc}, {})) > 0`, "1"},
		{`count(1..1000, len(upper(contact.s + event.properties.s)) > 0) > 0`, "1"},
		{`len(groupBy(1..50000, # % 7)) > 0`, `sum(map(1..1000, len(contact.s)))`},
	} {
		f.Add(seed[0], seed[1], "ab", 1000)
	}
	f.Fuzz(func(t *testing.T, when, points, s string, n int) {
		doc, err := yaml.Marshal(map[string]any{
			"model":  "m",
			"groups": []map[string]any{{"name": "g", "when": when, "points": points}},
		})
		if err != nil {
			t.Skip()
		}
		m, err := Parse("fuzz.yaml", doc)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		e := NewEvaluator()
		e.Bind(&events.Event{ID: "e", Type: "t",
			Properties: map[string]any{"s": s, "n": float64(n)},
			Contact:    map[string]any{"s": s, "n": n}})
		_, _, _ = e.Match(m.Groups[0])
		runtime.ReadMemStats(&after)
		// Bounded: the string meter, expr's collection budget and the
		// nested-walk bound together stay far below this.
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 512<<20 {
			t.Fatalf("when %q points %q: one evaluation allocated %d MB", when, points, grew>>20)
		}
	})
}
