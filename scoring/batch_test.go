package scoring

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/synth"
)

// TestApplyBatchIsApply: scoring a stream in batches of every size gives
// the same outcome for every event, and the same final state for every
// contact, as applying the events one by one. The stream has duplicates,
// late events and contacts that recur within a batch, under the sample
// rules (windows, decay, caps, first matches, thresholds) and the 100
// benchmark groups together.
func TestApplyBatchIsApply(t *testing.T) {
	set, err := rules.Load("../testdata/rules")
	if err != nil {
		t.Fatal(err)
	}
	bench, err := rules.Parse("bench.yaml", []byte(synth.Rules(100)))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(&rules.Set{Models: append(set.Models, bench)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := synth.Default()
	cfg.Contacts, cfg.Days, cfg.Events, cfg.DuplicateRate = 150, 60, 6000, 0.05
	var evs []events.Event
	if err := synth.Generate(cfg, func(ev *events.Event) error { evs = append(evs, *ev); return nil }); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < len(evs)/20; i++ { // some late events
		j, k := rng.IntN(len(evs)), rng.IntN(len(evs))
		evs[j], evs[k] = evs[k], evs[j]
	}

	one := NewScorer(e)
	oneState := map[string]*Contact{}
	var want []Outcome
	for i := range evs {
		want = append(want, clone(one.Apply(contactOf(oneState, &evs[i]), &evs[i])))
	}

	for _, size := range []int{1, 2, 3, aheadState, aheadContact, aheadContact + 1, 17, 256, len(evs)} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			s := NewScorer(e)
			state := map[string]*Contact{}
			var got []Outcome
			for lo := 0; lo < len(evs); lo += size {
				var items []Item
				for i := lo; i < min(lo+size, len(evs)); i++ {
					items = append(items, Item{Contact: contactOf(state, &evs[i]), Event: &evs[i]})
				}
				s.ApplyBatch(items, func(i int, o *Outcome) {
					if len(got) != lo+i {
						t.Fatalf("item %d of the batch at %d called back as event %d", i, lo, len(got))
					}
					got = append(got, clone(o))
				})
			}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("event %d (%s): batch outcome\n%+v\nwant\n%+v", i, evs[i].ID, got[i], want[i])
				}
			}
			if len(state) != len(oneState) {
				t.Fatalf("%d contacts, want %d", len(state), len(oneState))
			}
			for id, c := range oneState {
				if a, b := e.Encode(nil, state[id]), e.Encode(nil, c); !bytes.Equal(a, b) {
					t.Fatalf("contact %s: state differs after the batches", id)
				}
			}
		})
	}
	if t.Failed() {
		return
	}
	s := NewScorer(e)
	s.ApplyBatch(nil, func(int, *Outcome) { t.Fatal("called back for an empty batch") })
}

// clone copies an Outcome out of the Scorer's reused one.
func clone(o *Outcome) Outcome {
	c := *o
	c.Awards = append([]Award(nil), o.Awards...)
	c.Errors = append([]EvalError(nil), o.Errors...)
	c.Models = append([]ModelResult(nil), o.Models...)
	c.Hits = append([]Hit(nil), o.Hits...)
	return c
}
