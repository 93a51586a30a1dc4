package scoring

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/synth"
)

// A Scorer's cache of candidates by event type answers what the Engine's
// index does: for types that share a slot, the empty type, types no rule
// names, equal types in distinct strings, and after the Scorer is given
// another Engine.
func TestCandidatesOfType(t *testing.T) {
	bench, err := rules.Parse("bench.yaml", []byte(synth.Rules(100)))
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewEngine(&rules.Set{Models: []*rules.Model{bench}})
	if err != nil {
		t.Fatal(err)
	}
	e := sampleEngine(t)
	types := []string{"", "a", "b", "email_opened", "page_viewed", "cta_clicked", "call_started", "meeting_booked",
		"form_submitted", "webinar_attended", "unsubscribed", "survey_answered", "no_such_type", "email_openee"}
	for i := range 40 { // more types than slots
		types = append(types, "t"+strings.Repeat("x", i%7)+string(rune('a'+i%26)))
	}
	rng := rand.New(rand.NewPCG(13, 14))
	s := NewScorer(e)
	for i := range 50000 {
		if i%10000 == 9999 {
			if s.Engine == e {
				s.Engine = other
			} else {
				s.Engine = e
			}
		}
		ty := strings.Clone(types[rng.IntN(len(types))])
		if got, want := s.candidatesOfType(ty), s.candidates(ty); !slices.Equal(got, want) {
			t.Fatalf("type %q: cached %v, index %v", ty, got, want)
		}
	}
}
