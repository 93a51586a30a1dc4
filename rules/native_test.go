package rules

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/expr-lang/expr"
	"github.com/scorebridge/scorebridge/events"
)

// nativeCases are the shapes rule authors write; each must compile
// natively and agree with expr on every event.
var nativeCases = []string{
	`event.properties.duration_s >= 60`,
	`event.properties.x > 1 && contact.tier == "gold"`,
	`event.properties.x < 2.5 || event.properties.x <= 0`,
	`!(event.properties.flag)`,
	`not (contact.tier == "gold")`,
	`event.properties.path startsWith "/pricing"`,
	`contact.email endsWith "@competitor.com"`,
	`event.properties.q contains "demo"`,
	`event.properties.channel in ["email", "organic"]`,
	`event.properties.channel in ["email", "email", "paid"]`,
	`event.type in ["a", "b", "c", "d", "e", "f", "g", "h", "email_opened"]`,
	`event.properties.x in [1, 2.5, "a", nil, true]`,
	`contact.tier not in ["gold", "silver"]`,
	`event.properties.x != nil && event.properties.x == 3`,
	`event.properties.flag && event.properties.x > 0`,
	`event.properties.minutes >= 45 ? 12 : 6`,
	`event.company_id == "co-1" && event.id != "" && event.contact_id != "x"`,
	`event.type == "a" && event.properties["x"] > 1`,
	`contact["tier"] == "gold"`,
}

func TestNativeCovers(t *testing.T) {
	for _, src := range nativeCases {
		if compileNative(src) == nil {
			t.Errorf("%s: not compiled natively", src)
		}
	}
	for _, src := range []string{`event.properties.a.b > 1`, `len(contact.tags) > 2`, `event.properties.x + 1 > 2`, `"a" == "a"`, `event.properties.x in 1..3`} {
		if compileNative(src) != nil {
			t.Errorf("%s: compiled natively, outside the subset", src)
		}
	}
}

// randomValue gives the kinds of values JSON decoding produces.
func randomValue(r *rand.Rand) any {
	switch r.IntN(9) {
	case 0:
		return nil
	case 1:
		return float64(r.IntN(5)) / 2
	case 2:
		return float64(r.IntN(100))
	case 3:
		return []string{"", "a", "gold", "email", "/pricing/x", "x@competitor.com", "demo day"}[r.IntN(7)]
	case 4:
		return r.IntN(2) == 0
	case 5:
		return []any{"a", 1.0}
	case 6:
		return map[string]any{"b": 1.0}
	case 7:
		return "organic"
	}
	return 3.0
}

func randomEvent(r *rand.Rand) events.Event {
	props := map[string]any{}
	contact := map[string]any{}
	for _, k := range []string{"duration_s", "x", "flag", "path", "q", "channel", "minutes"} {
		if r.IntN(4) > 0 {
			props[k] = randomValue(r)
		}
	}
	for _, k := range []string{"tier", "email"} {
		if r.IntN(4) > 0 {
			contact[k] = randomValue(r)
		}
	}
	if r.IntN(5) == 0 {
		props = nil
	}
	if r.IntN(5) == 0 {
		contact = nil
	}
	return events.Event{ID: fmt.Sprint(r.IntN(3)), Type: "a", CompanyID: []string{"", "co-1"}[r.IntN(2)], Properties: props, Contact: contact}
}

// The native closures agree with expr (the same program the VM would run)
// on value and on whether an error occurs.
func TestNativeAgreesWithExpr(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	e := NewEvaluator()
	for _, src := range nativeCases {
		p, err := expr.Compile(src, options()...)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		n := compileNative(src)
		for i := 0; i < 3000; i++ {
			ev := randomEvent(r)
			e.Bind(&ev)
			want, werr := e.vm.Run(p, &e.env)
			got, gerr := n.run(&e.env)
			if (werr == nil) != (gerr == nil) || fmt.Sprint(want) != fmt.Sprint(got) {
				t.Fatalf("%s on %+v %+v:\n expr   %v %v\n native %v %v", src, ev.Properties, ev.Contact, want, werr, got, gerr)
			}
		}
	}
}

// FuzzNative: for any expression both compile, native and expr agree.
func FuzzNative(f *testing.F) {
	for _, src := range nativeCases {
		f.Add(src, uint64(1))
	}
	e := NewEvaluator()
	f.Fuzz(func(t *testing.T, src string, seed uint64) {
		if len(src) > MaxExprBytes {
			return
		}
		n := compileNative(src)
		if n == nil {
			return
		}
		p, err := expr.Compile(src, options()...)
		if err != nil {
			return // expr rejects it at compile time: never run natively
		}
		r := rand.New(rand.NewPCG(seed, seed))
		for i := 0; i < 50; i++ {
			ev := randomEvent(r)
			e.Bind(&ev)
			want, werr := e.vm.Run(p, &e.env)
			got, gerr := n.run(&e.env)
			if (werr == nil) != (gerr == nil) || fmt.Sprint(want) != fmt.Sprint(got) {
				t.Fatalf("%s: expr %v %v, native %v %v", src, want, werr, got, gerr)
			}
		}
	})
}

// Property lookups and conditions are remembered for one event only: an
// Evaluator bound to the next event reads that event's properties and
// contact, two groups reading one property agree, and so do two groups
// sharing a condition (a and c).
func TestLookupsLastOneEvent(t *testing.T) {
	m, err := Parse("m.yaml", []byte(`model: m
groups:
  - {name: a, when: 'event.properties.channel == "email" && contact.tier == "gold"', points: 1}
  - {name: b, when: 'event.properties.channel in ["email"] || contact.tier == "gold"', points: 1}
  - {name: c, when: 'event.properties.channel == "email" && contact.tier == "gold"', points: 2}
`))
	if err != nil {
		t.Fatal(err)
	}
	e := NewEvaluator()
	cases := []struct {
		channel, tier string
		a, b          bool
	}{
		{"email", "gold", true, true},
		{"paid", "gold", false, true},
		{"email", "silver", false, true},
		{"paid", "silver", false, false},
		{"email", "gold", true, true},
	}
	for i, c := range cases {
		e.Bind(&events.Event{ID: fmt.Sprint(i), Type: "x",
			Properties: map[string]any{"channel": c.channel}, Contact: map[string]any{"tier": c.tier}})
		for gi, want := range []bool{c.a, c.b, c.a} {
			for range 2 { // asked twice: the second answer comes from the lookups
				ok, _, err := e.Match(m.Groups[gi])
				if err != nil || ok != want {
					t.Fatalf("event %d group %s: %v (%v), want %v", i, m.Groups[gi].Name, ok, err, want)
				}
			}
		}
	}
}

// Only native conditions naming nothing but contact are remembered per
// contact map: after the type test (the residual is what counts) or
// without one.
func TestContactOnly(t *testing.T) {
	m, err := Parse("m.yaml", []byte(`model: m
groups:
  - {name: email, when: 'contact.email endsWith "@competitor.com"', points: 1}
  - {name: stage, when: 'event.type == "page_viewed" && contact.lifecycle_stage == "lead"', points: 1}
  - {name: tiers, when: 'event.type in ["a", "b"] && (contact.tier in ["gold"] || !(contact["x"] == 2))', points: 1}
  - {name: typed, when: 'event.type == "page_viewed"', points: 1}
  - {name: path, when: 'event.type == "page_viewed" && event.properties.path startsWith "/pricing"', points: 1}
  - {name: mixed, when: 'event.properties.x > 1 && contact.tier == "gold"', points: 1}
  - {name: id, when: 'contact.email == event.contact_id', points: 1}
  - {name: vm, when: 'len(contact.email) > 3', points: 1}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"email": true, "stage": true, "tiers": true}
	for _, g := range m.Groups {
		if g.contactOnly != want[g.Name] {
			t.Errorf("group %s: contactOnly %v, want %v", g.Name, g.contactOnly, want[g.Name])
		}
	}
}

// An Evaluator that remembers contact-only conditions while the events
// bound share a contact map answers every group as a fresh one does, over
// runs of events that share maps, alternate between maps (A, B, A: A's
// answers are asked again), carry nil or equal-but-distinct maps.
func TestContactMemoAgreesWithFresh(t *testing.T) {
	m, err := Parse("m.yaml", []byte(`model: m
groups:
  - {name: email, when: 'contact.email endsWith "@competitor.com"', points: 1}
  - {name: tier, when: 'event.type == "a" && contact.tier == "gold"', points: 1}
  - {name: tiers, when: 'contact.tier in ["gold", "silver"] || contact.email == "x@competitor.com"', points: 1}
  - {name: errs, when: 'contact.tier startsWith "g"', points: 1}
  - {name: mixed, when: 'event.properties.x == 3 || contact.tier == "gold"', points: 1}
`))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 10))
	var pool []map[string]any
	for range 6 {
		pool = append(pool, randomEvent(r).Contact)
	}
	pool = append(pool, map[string]any{"email": "x@competitor.com", "tier": "gold"}, map[string]any{"email": "x@competitor.com", "tier": "gold"})
	kept := NewEvaluator()
	remembered := 0
	var prev map[string]any
	for i := range 20000 {
		ev := randomEvent(r)
		switch r.IntN(4) {
		case 0, 1: // the same map as the event before
			ev.Contact = prev
		case 2:
			ev.Contact = pool[r.IntN(len(pool))]
		}
		prev = ev.Contact
		kept.Bind(&ev)
		fresh := NewEvaluator()
		fresh.Bind(&ev)
		for _, g := range m.Groups {
			if g.contactOnly {
				if _, seen := kept.env.memo.contactTests.get(g.testSlot, kept.env.memo.contactStamp); seen {
					remembered++
				}
			}
			ok, pts, err := kept.Match(g)
			wok, wpts, werr := fresh.Match(g)
			if ok != wok || pts != wpts || (err == nil) != (werr == nil) {
				t.Fatalf("event %d group %s on %v: remembered %v %v %v, fresh %v %v %v", i, g.Name, ev.Contact, ok, pts, err, wok, wpts, werr)
			}
		}
	}
	if remembered < 1000 {
		t.Fatalf("only %d answers came from the contact memo: it is hardly tested", remembered)
	}
	t.Logf("%d answers from the contact memo", remembered)
}
