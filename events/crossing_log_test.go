package events

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestCrossingLog(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	x := func(contact, model, threshold, event string, h int) Crossing {
		return Crossing{CrossingID: CrossingID(contact, model, threshold, event), ContactID: contact, Model: model,
			ThresholdName: threshold, EventID: event, CrossedAt: at.Add(time.Duration(h) * time.Hour)}
	}
	enc := func(c Crossing) []byte { b, _ := json.Marshal(c); return b }
	l := NewCrossingLog()
	a2, a1 := x("a", "m", "default", "e2", 2), x("a", "m", "default", "e1", 1)
	l.Add([]byte("a"), enc(a2))
	l.Add([]byte("a"), enc(a1))
	l.Add([]byte("a"), enc(a1)) // a replay
	l.Add([]byte("b"), []byte(`{"crossing_id":`))
	other := a1
	other.EventID = "e9" // same id, another crossing
	l.Add([]byte("a"), enc(other))
	reid := x("c", "m", "default", "e3", 0)
	l.Add([]byte("c"), enc(reid))
	reid.CrossingID = "made-up"
	l.Add([]byte("c"), enc(reid)) // the same crossing under a second (and wrong) id
	wrongKey := x("d", "m", "default", "e4", 0)
	l.Add([]byte("not-d"), enc(wrongKey))
	// A company model's crossing, keyed by its company: counted apart,
	// neither a conflict (no contact key) nor a contact's crossing.
	l.Add([]byte("acme"), []byte(`{"crossing_id":"k","level":"company","company_id":"acme","model":"acct","crossed_at":"2026-03-01T09:00:00Z"}`))

	if l.Companies != 1 {
		t.Errorf("company crossings %d, want 1", l.Companies)
	}
	if l.Messages != 9 || l.Distinct != 5 || l.Duplicates != 2 || l.Malformed != 1 {
		t.Errorf("messages %d distinct %d duplicates %d malformed %d; want 9 5 2 1", l.Messages, l.Distinct, l.Duplicates, l.Malformed)
	}
	want := []string{"names two crossings", "announced under two ids", "is not the id of", `keyed "not-d", contact "d"`}
	if len(l.Conflicts) != len(want) {
		t.Fatalf("conflicts %q", l.Conflicts)
	}
	for i, w := range want {
		if !strings.Contains(l.Conflicts[i], w) {
			t.Errorf("conflict %d: %q, want %q", i, l.Conflicts[i], w)
		}
	}
	if ts := l.Times("a", "m"); len(ts) != 2 || !ts[0].Equal(a1.CrossedAt) || !ts[1].Equal(a2.CrossedAt) {
		t.Errorf("times of a: %v, want e1's then e2's", ts)
	}
	if c := l.Contacts(); len(c) != 3 || !c["a"] || !c["c"] || !c["d"] {
		t.Errorf("contacts %v", c)
	}
	missing, unexpected := l.Compare(map[string]bool{a1.CrossingID: true, a2.CrossingID: true, "lost": true})
	if strings.Join(missing, ",") != "lost" || len(unexpected) != 3 {
		t.Errorf("missing %v, unexpected %v", missing, unexpected)
	}
}
