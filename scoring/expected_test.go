package scoring

import (
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
)

func TestExpectedCrossingIDs(t *testing.T) {
	m, err := rules.Parse("fit.yaml", []byte(`model: fit
threshold: 10
rearm_below: 5
groups:
  - {name: clicks, when: 'event.type == "click"', points: 6}
  - {name: unsub, when: 'event.type == "unsub"', points: -8}
`))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ev := func(id, contact, typ string, h int) events.Event {
		return events.Event{ID: id, ContactID: contact, Type: typ, OccurredAt: t0.Add(time.Duration(h) * time.Hour)}
	}
	// a crosses at a2, falls below 5 at a3 (re-arms), crosses again at a4;
	// b's events come out of order and cross at b2, its later event in time.
	evs := []events.Event{
		ev("a1", "a", "click", 1), ev("b2", "b", "click", 5), ev("a2", "a", "click", 2),
		ev("a3", "a", "unsub", 3), ev("b1", "b", "click", 4), ev("a4", "a", "click", 4), ev("a4", "a", "click", 4),
		ev("c1", "c", "click", 1),
	}
	got := ExpectedCrossingIDs(&rules.Set{Models: []*rules.Model{m}}, evs)
	want := map[string]bool{
		events.CrossingID("a", "fit", events.DefaultThreshold, "a2"): true,
		events.CrossingID("a", "fit", events.DefaultThreshold, "a4"): true,
		events.CrossingID("b", "fit", events.DefaultThreshold, "b2"): true,
	}
	if len(got) != len(want) {
		t.Fatalf("%d ids, want %d: %v", len(got), len(want), got)
	}
	for id := range want {
		if !got[id] {
			t.Errorf("missing %s", id)
		}
	}
}
