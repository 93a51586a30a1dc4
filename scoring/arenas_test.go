package scoring

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"unsafe"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/synth"
)

// TestArenasNeverShared: after a stream scored by one Scorer, no two
// contacts' arenas share memory, and no arena the Scorer keeps for reuse is
// one a contact still uses: a recycled arena handed out twice would mix
// two contacts' state.
func TestArenasNeverShared(t *testing.T) {
	e := sampleEngine(t)
	s := NewScorer(e)
	cfg := synth.Default()
	cfg.Contacts, cfg.Days, cfg.Events, cfg.DuplicateRate = 400, 90, 20000, 0.02
	state := map[string]*Contact{}
	if err := synth.Generate(cfg, func(ev *events.Event) error {
		s.Apply(contactOf(state, ev), ev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	type span struct {
		lo, hi uintptr
		what   string
	}
	var spans []span
	add := func(a []uint64, what string) {
		if cap(a) == 0 {
			return
		}
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(a[:1])))
		spans = append(spans, span{lo, lo + uintptr(cap(a))*8, what})
	}
	for id, c := range state {
		add(c.arena, "contact "+id)
	}
	kept := 0
	for _, l := range s.free.free {
		for _, a := range l {
			add(a, "kept for reuse")
			kept++
		}
	}
	if kept == 0 {
		t.Fatal("the Scorer kept no outgrown arena: the test checks nothing")
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
	for i := 1; i < len(spans); i++ {
		if spans[i].lo < spans[i-1].hi {
			t.Fatalf("%s and %s share memory", spans[i-1].what, spans[i].what)
		}
	}
}

func TestArenasGetPut(t *testing.T) {
	var a arenas
	cw := classWords()
	for want := 1; want <= maxClassWords+10; want++ {
		got := a.get(want)
		if len(got) != 0 || cap(got) < want {
			t.Fatalf("get(%d): len %d cap %d", want, len(got), cap(got))
		}
		if want <= maxClassWords && cap(got) != cw[want] {
			t.Fatalf("get(%d): cap %d, not its class %d", want, cap(got), cw[want])
		}
	}
	x := a.get(40)
	a.put(x)
	if y := a.get(cap(x)); unsafe.SliceData(y[:1]) != unsafe.SliceData(x[:1]) {
		t.Fatal("an arena put back was not handed out again")
	}
	a.put(make([]uint64, 0, 41)) // not a class size: dropped
	if a.words != 0 {
		t.Fatalf("kept %d words of an arena of no class size", a.words)
	}
	for a.words+64 <= maxFreeWords {
		a.put(make([]uint64, 0, 64))
	}
	held := a.words
	a.put(make([]uint64, 0, 64))
	if a.words != held {
		t.Fatalf("kept %d words, over the bound of %d", a.words, maxFreeWords)
	}
	var none *arenas
	none.put(x)
	if got := none.get(10); cap(got) < 10 {
		t.Fatal("a nil arenas must still allocate")
	}
}

// TestResetIsNew: a contact scored, Reset and scored again with another
// contact's events gives, event by event, the outcomes a new Contact gives
// and ends in the same state: nothing of its past leaks through the arena
// it keeps.
func TestResetIsNew(t *testing.T) {
	e := sampleEngine(t)
	cfg := synth.Default()
	cfg.Contacts, cfg.Days, cfg.Events, cfg.DuplicateRate = 60, 90, 6000, 0.02
	byContact := map[string][]events.Event{}
	var ids []string
	if err := synth.Generate(cfg, func(ev *events.Event) error {
		if byContact[ev.ContactID] == nil {
			ids = append(ids, ev.ContactID)
		}
		byContact[ev.ContactID] = append(byContact[ev.ContactID], *ev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	reused, s, fresh := &Contact{}, NewScorer(e), NewScorer(e)
	grown := 0
	for _, id := range ids {
		had := cap(reused.arena)
		reused.Reset()
		c := &Contact{}
		for i := range byContact[id] {
			ev := &byContact[id][i]
			got, want := *s.Apply(reused, ev), *fresh.Apply(c, ev)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s, event %s: outcome %+v after Reset, %+v new", id, ev.ID, got, want)
			}
		}
		if string(e.Encode(nil, reused)) != string(e.Encode(nil, c)) {
			t.Fatalf("%s: the state after Reset differs from a new contact's", id)
		}
		if had > 0 && cap(reused.arena) >= had {
			grown++ // kept its memory
		}
	}
	if grown == 0 {
		t.Fatal("Reset never kept an arena: the test checks nothing")
	}
}
