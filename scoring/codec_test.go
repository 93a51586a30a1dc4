package scoring

import (
	"strings"
	"testing"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/synth"
)

// Saving and loading a contact's state at any point changes nothing: the
// rest of the stream gives the same hits and final scores.
func TestCodecRoundTrip(t *testing.T) {
	e := sampleEngine(t)
	cfg := synth.Default()
	cfg.Contacts, cfg.Days = 150, 60
	stream, ids := byContact(t, cfg)
	for _, id := range ids {
		evs := stream[id]
		a, b := NewScorer(e), NewScorer(e)
		var ca Contact
		cb := &Contact{}
		for i := range evs {
			if i%3 == 1 {
				data := e.Encode(nil, cb)
				var err error
				if cb, err = e.Decode(data); err != nil {
					t.Fatalf("%s: %v", id, err)
				}
			}
			ha := hitsOf(a.Apply(&ca, &evs[i]))
			hb := hitsOf(b.Apply(cb, &evs[i]))
			if ha != hb {
				t.Fatalf("%s event %d: hits %s vs %s after a round trip", id, i, ha, hb)
			}
		}
		for mi := range e.Rules.Models {
			if x, y := a.Score(&ca, mi, ca.Latest), b.Score(cb, mi, cb.Latest); x != y {
				t.Fatalf("%s: score %d vs %d after round trips", id, x, y)
			}
		}
	}
}

func hitsOf(o *Outcome) string {
	var b strings.Builder
	for _, h := range o.Hits {
		b.WriteString(string(rune('0'+h.Model)) + string(rune('0'+h.Threshold)) + ",")
	}
	if o.Duplicate {
		b.WriteString("dup")
	}
	return b.String()
}

// Under changed rules, unchanged groups keep their state, a changed group
// starts empty, and thresholds keep their armed state by name.
func TestCodecAcrossRuleVersions(t *testing.T) {
	v1 := `model: m
threshold: 5
groups:
  - {name: keep, when: 'event.type == "a"', points: 2}
  - {name: change, when: 'event.type == "b"', points: 3}
  - {name: drop, when: 'event.type == "c"', points: 4}
`
	v2 := `model: m
threshold: 5
groups:
  - {name: new, when: 'event.type == "d"', points: 1}
  - {name: change, when: 'event.type == "b"', points: 30}
  - {name: keep, when: 'event.type == "a"', points: 2}
`
	e1 := engineOf(t, v1)
	e2 := engineOf(t, v2)
	s := NewScorer(e1)
	var c Contact
	for _, x := range evs("1 a 1h", "2 b 2h", "3 c 3h") {
		s.Apply(&c, &x)
	}
	if c.Disarmed == 0 {
		t.Fatal("the threshold should have fired")
	}
	moved, err := e2.Decode(e1.Encode(nil, &c))
	if err != nil {
		t.Fatal(err)
	}
	s2 := NewScorer(e2)
	if got := s2.Score(moved, 0, moved.Latest); got != pts(2) {
		t.Errorf("score under v2 = %s, want 2 (only the unchanged group)", rules.FormatPoints(got))
	}
	if moved.Disarmed == 0 {
		t.Error("the threshold re-armed across a rule change")
	}
	again := ev("1 a 4h") // seen ids survive
	if !s2.Apply(moved, &again).Duplicate {
		t.Error("a seen event was counted again after a rule change")
	}
}

func engineOf(t *testing.T, yaml string) *Engine {
	t.Helper()
	e, err := NewEngine(&rules.Set{Models: []*rules.Model{model(t, yaml)}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func FuzzDecode(f *testing.F) {
	e := sampleEngineF(f)
	s := NewScorer(e)
	var c Contact
	cfg := synth.Default()
	cfg.Contacts, cfg.Events = 3, 40
	synth.Generate(cfg, func(ev *events.Event) error { s.Apply(&c, ev); return nil })
	f.Add(e.Encode(nil, &c))
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := e.Decode(data)
		if err != nil {
			return
		}
		// Whatever decodes must encode and score without panicking.
		e.Encode(nil, c)
		NewScorer(e).Score(c, 0, c.Latest)
	})
}

func sampleEngineF(f *testing.F) *Engine {
	set, err := rules.Load("../testdata/rules")
	if err != nil {
		f.Fatal(err)
	}
	e, _ := NewEngine(set)
	return e
}
