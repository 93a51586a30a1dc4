package scoring

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/synth"
)

func sampleEngine(t testing.TB) *Engine {
	t.Helper()
	set, err := rules.Load("../testdata/rules")
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(set)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// byContact generates a stream and groups it by contact, in stream order.
func byContact(t testing.TB, cfg synth.Config) (map[string][]events.Event, []string) {
	t.Helper()
	out := map[string][]events.Event{}
	var ids []string
	err := synth.Generate(cfg, func(ev *events.Event) error {
		if out[ev.ContactID] == nil {
			ids = append(ids, ev.ContactID)
		}
		out[ev.ContactID] = append(out[ev.ContactID], *ev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, ids
}

func latest(evs []events.Event) int64 {
	var T int64
	for i, e := range evs {
		if i == 0 || e.OccurredAt.UnixNano() > T {
			T = e.OccurredAt.UnixNano()
		}
	}
	return T
}

// The final score depends only on the set of events: every permutation,
// fed to the incremental scorer, gives Evaluate's score and groups, and
// the ledger of each run adds up to that score.
func TestScoreIndependentOfOrder(t *testing.T) {
	e := sampleEngine(t)
	cfg := synth.Default()
	cfg.Contacts, cfg.Days, cfg.DuplicateRate = 300, 60, 0.05
	stream, ids := byContact(t, cfg)
	r := rand.New(rand.NewPCG(1, 2))
	checked := 0
	for _, id := range ids {
		evs := stream[id]
		T := latest(evs)
		for perm := 0; perm < 3; perm++ {
			list := append([]events.Event(nil), evs...)
			if perm > 0 {
				r.Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
			}
			s := NewScorer(e)
			s.Ledger = true
			var c Contact
			ledger := make([]rules.Points, len(e.Rules.Models))
			for i := range list {
				o := s.Apply(&c, &list[i])
				for _, mr := range o.Models {
					for _, d := range mr.Deltas {
						ledger[mr.Model] += d.Delta
					}
				}
			}
			for mi, m := range e.Rules.Models {
				want := Evaluate(m, list, time.Unix(0, T).UTC())
				got := s.Score(&c, mi, T)
				if got != want.Score {
					t.Fatalf("contact %s model %s perm %d: incremental %s, Evaluate %s", id, m.Name, perm,
						rules.FormatPoints(got), rules.FormatPoints(want.Score))
				}
				if ledger[mi] != got {
					t.Fatalf("contact %s model %s perm %d: ledger adds to %s, score %s", id, m.Name, perm,
						rules.FormatPoints(ledger[mi]), rules.FormatPoints(got))
				}
				groups := map[int]rules.Points{}
				s.GroupSums(&c, mi, T, func(g int, sum rules.Points) { groups[g] = sum })
				for gi, gb := range want.Groups {
					sum, ok := groups[gi]
					if ok != (len(gb.Counted) > 0) || sum != gb.Sum {
						t.Fatalf("contact %s model %s group %s: incremental %v/%d, Evaluate %d counted, sum %d",
							id, m.Name, gb.Name, ok, sum, len(gb.Counted), gb.Sum)
					}
				}
				checked++
			}
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d scores checked", checked)
	}
}

// An in-order stream gives the incremental scorer exactly the crossings of
// the semantics.
func TestCrossingsInOrderMatchReference(t *testing.T) {
	e := sampleEngine(t)
	cfg := synth.Default()
	cfg.Contacts, cfg.Days, cfg.DuplicateRate = 200, 60, 0.02
	stream, ids := byContact(t, cfg)
	total := 0
	for _, id := range ids {
		evs := stream[id]
		s := NewScorer(e)
		var c Contact
		got := map[string][]string{}
		for i := range evs {
			for _, h := range s.Apply(&c, &evs[i]).Hits {
				m := e.Rules.Models[h.Model]
				got[m.Name] = append(got[m.Name], evs[i].ID+"/"+m.Thresholds[h.Threshold].Name)
			}
		}
		for _, m := range e.Rules.Models {
			var want []string
			for _, x := range EvaluateCrossings(m, evs) {
				want = append(want, x.EventID+"/"+x.Threshold.Name)
			}
			total += len(want)
			if len(want) != len(got[m.Name]) {
				t.Fatalf("contact %s model %s: incremental %v, reference %v", id, m.Name, got[m.Name], want)
			}
			for i := range want {
				if want[i] != got[m.Name][i] {
					t.Fatalf("contact %s model %s: incremental %v, reference %v", id, m.Name, got[m.Name], want)
				}
			}
		}
	}
	if total == 0 {
		t.Fatal("the stream produced no crossing: the test checks nothing")
	}
	t.Logf("%d crossings checked", total)
}

// After every event, in any order, each model's score is Evaluate's over
// the events taken so far at the latest of their times: the running
// totals the scorer keeps never drift from the semantics, under the
// sample rules and under the benchmark's 100 capped, windowed groups.
func TestRunningScoreMatchesReference(t *testing.T) {
	bench, err := rules.Parse("bench.yaml", []byte(synth.Rules(100)))
	if err != nil {
		t.Fatal(err)
	}
	benchEngine, err := NewEngine(&rules.Set{Models: []*rules.Model{bench}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := synth.Default()
	cfg.Contacts, cfg.Days, cfg.DuplicateRate = 60, 90, 0.03
	stream, ids := byContact(t, cfg)
	r := rand.New(rand.NewPCG(3, 4))
	checked := 0
	for _, e := range []*Engine{sampleEngine(t), benchEngine} {
		for _, id := range ids {
			for perm := 0; perm < 2; perm++ {
				list := append([]events.Event(nil), stream[id]...)
				if perm > 0 {
					r.Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
				}
				s := NewScorer(e)
				var c Contact
				for i := range list {
					o := s.Apply(&c, &list[i])
					if o.Duplicate {
						continue
					}
					T := time.Unix(0, c.Latest).UTC()
					for _, mr := range o.Models {
						want := Evaluate(e.Rules.Models[mr.Model], list[:i+1], T)
						if mr.Score != want.Score {
							t.Fatalf("contact %s perm %d model %s after event %d (%s): running %s, Evaluate %s", id, perm,
								e.Rules.Models[mr.Model].Name, i, list[i].ID, rules.FormatPoints(mr.Score), rules.FormatPoints(want.Score))
						}
						checked++
					}
				}
			}
		}
	}
	t.Logf("%d running scores checked", checked)
}
