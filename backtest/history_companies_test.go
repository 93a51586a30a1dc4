package backtest

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
)

// TestHistoryCompanyScoresEqualsStream: the company models over the held
// history give the streaming CompanyScores' scores and crossings (which
// depend on the input order), for any number of shards, with and without
// as-of, over an input with events out of order, duplicates and bad lines.
func TestHistoryCompanyScoresEqualsStream(t *testing.T) {
	e := engine(t, "../testdata/rules-accounts")
	data := history(t, 600, 20, 5, true)
	for _, asOf := range []time.Time{{}, time.Date(2026, 10, 10, 12, 0, 0, 0, time.UTC)} {
		want, wantX, err := CompanyScores(e, bytes.NewReader(data), asOf)
		if err != nil {
			t.Fatal(err)
		}
		crossings := 0
		for _, xs := range wantX {
			crossings += len(xs)
		}
		if len(want) == 0 || crossings == 0 {
			t.Fatalf("as of %v: the history gives %d company scores and %d crossings: nothing to compare", asOf, len(want), crossings)
		}
		for _, shards := range []int{1, 3, 8} {
			h, err := Load(bytes.NewReader(data), shards)
			if err != nil {
				t.Fatal(err)
			}
			got, gotX := h.CompanyScores(e, asOf)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("as of %v, %d shards: scores differ", asOf, shards)
			}
			if !reflect.DeepEqual(gotX, wantX) {
				t.Errorf("as of %v, %d shards: crossings differ", asOf, shards)
			}
		}
	}
}

// TestHistoryEachInInputOrder: Each gives the events a stream read of
// the input gives (bad lines skipped), in the same order, duplicates
// included, for any number of shards.
func TestHistoryEachInInputOrder(t *testing.T) {
	data := history(t, 200, 10, 9, true)
	key := func(ev *events.Event) string {
		return fmt.Sprint(ev.ID, " ", ev.ContactID, " ", ev.Type, " ", ev.OccurredAt.UnixNano())
	}
	var want []string
	if err := events.NewReader(bytes.NewReader(data)).Each(func(ev events.Event) error {
		want = append(want, key(&ev))
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	for _, shards := range []int{1, 5} {
		h, err := Load(bytes.NewReader(data), shards)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		h.Each(func(ev *events.Event) { got = append(got, key(ev)) })
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%d shards: Each gives %d events, the stream %d (or another order)", shards, len(got), len(want))
		}
	}
}
