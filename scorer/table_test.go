package scorer

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
)

// ReadStates answers what the processors left in the changelog, as a
// restore on assignment reads it: the backtest's scores, a tombstone
// deleting its contact, a marker taken for no state, an unreadable state
// named to bad and left out.
func TestReadStates(t *testing.T) {
	e := setup(t, 60)
	e.runUntilDone(t, nil)
	want, _ := e.backtest(t)
	gone := e.events[len(e.events)/2].ContactID
	for _, m := range e.engine.Rules.Models {
		if _, ok := want[gone+"/"+m.Name]; !ok {
			t.Fatalf("%s has no %s score in the backtest", gone, m.Name)
		}
		delete(want, gone+"/"+m.Name)
	}
	err := producer(t, e.brokers, "states").Write(ctxFor(t, 30*time.Second),
		stream.Record{Key: []byte(gone)}, // tombstone
		markerMessage("c-marker", marker{At: time.Now().UnixNano(), Kind: privacy}),
		stream.Message("c-garbled", []byte("not a state")),
	)
	if err != nil {
		t.Fatal(err)
	}

	var bad []string
	var states map[string]*scoring.Contact
	var n int
	states, n, err = ReadStates(ctxFor(t, 30*time.Second), e.brokers, "states", e.engine, func(m stream.Record, err error) {
		if err == nil {
			err = errors.New("nil error")
		}
		bad = append(bad, string(m.Key)+": "+err.Error())
	})
	if err != nil || n != partitions {
		t.Fatalf("ReadStates: %d partitions, err %v; want %d", n, err, partitions)
	}
	if len(bad) != 1 || !strings.HasPrefix(bad[0], "c-garbled: ") {
		t.Errorf("unreadable states reported: %q, want c-garbled's alone", bad)
	}
	s := scoring.NewScorer(e.engine)
	got := map[string]float64{}
	for id, c := range states {
		for mi, m := range e.engine.Rules.Models {
			got[id+"/"+m.Name] = rules.Float(s.Score(c, mi, c.Latest))
		}
	}
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("%d (contact, model) scores read, want %d (the backtest's less %s's)", len(got), len(want), gone)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: read %v, backtest %v", k, got[k], v)
		}
	}
}
