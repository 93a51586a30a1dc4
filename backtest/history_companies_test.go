package backtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/accounts"

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
			// What the studio serves of them, byte for byte.
			gotJSON, _ := json.Marshal(CompanyLines(got, gotX))
			wantJSON, _ := json.Marshal(CompanyLines(want, wantX))
			if !bytes.Equal(gotJSON, wantJSON) {
				t.Errorf("as of %v, %d shards: company lines differ:\n got %s\nwant %s", asOf, shards, gotJSON, wantJSON)
			}
		}
	}
}

// TestHistoryEachInInputOrder: Each gives the events a stream read of
// the input gives (bad lines skipped), in the same order, duplicates
// included, every field and property the same, for any number of shards;
// Of gives each contact's events in input order.
func TestHistoryEachInInputOrder(t *testing.T) {
	data := history(t, 200, 10, 9, true)
	key := func(ev *events.Event) string { return fmt.Sprintf("%+v", *ev) } // maps print sorted
	var want []string
	of := map[string][]events.Event{}
	if err := events.NewReader(bytes.NewReader(data)).Each(func(ev events.Event) error {
		want = append(want, key(&ev))
		of[ev.ContactID] = append(of[ev.ContactID], ev)
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	for _, shards := range []int{1, 5} {
		h, err := Load(bytes.NewReader(data), shards)
		if err != nil {
			t.Fatal(err)
		}
		if ids := h.ContactIDs(); len(ids) != len(of) || len(ids) < 100 {
			t.Fatalf("%d shards: %d contacts, want %d", shards, len(ids), len(of))
		}
		for id, evs := range of {
			if got := h.Of(id); !reflect.DeepEqual(got, evs) {
				t.Fatalf("%d shards: Of(%s) gives %d events, want %d (or others, or in another order)", shards, id, len(got), len(evs))
			}
		}
		if h.Of("nobody") != nil {
			t.Fatalf("%d shards: Of an unknown contact is not nil", shards)
		}
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

// TestExplainCompanyAsOfEqualsCompanyLines: `explain --company ID --as-of
// T` takes apart what the backtest's company line says with --as-of T
// (score, every member's score, coverage, crossings), for every company
// at the end and at earlier times.
func TestExplainCompanyAsOfEqualsCompanyLines(t *testing.T) {
	e := engine(t, "../testdata/rules-accounts")
	data := history(t, 400, 20, 9, false)
	for _, asOf := range []time.Time{{}, time.Date(2026, 10, 6, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 12, 12, 0, 0, 0, time.UTC)} {
		var want []CompanyLine
		if err := RunCompanies(e, bytes.NewReader(data), asOf, func(l CompanyLine) error {
			want = append(want, l)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(want) < 3 {
			t.Fatalf("as of %v: %d company lines: nothing to compare", asOf, len(want))
		}
		moved, n := 0, len(e.Rules.Companies)
		// Every seventh company: each is two reads of the input.
		for i := 0; i < len(want); i += 7 * n {
			id := want[i].CompanyID
			evs, err := CollectCompany(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, id, nil)
			if err != nil {
				t.Fatal(err)
			}
			x := ExplainCompany(e, id, evs, asOf)
			byModel := map[string][]accounts.Crossing{}
			for _, c := range x.Crossings {
				byModel[c.Model] = append(byModel[c.Model], c)
			}
			got := CompanyLines(x.Scores, map[[2]string][]accounts.Crossing{})
			for j := range got {
				for _, c := range byModel[got[j].Model] {
					got[j].Crossings = append(got[j].Crossings, c.At)
					got[j].Thresholds = append(got[j].Thresholds, c.Threshold.Name)
				}
				if !reflect.DeepEqual(got[j], want[i+j]) {
					t.Errorf("as of %v, %s: explanation\n %+v\nbacktest company line\n %+v", asOf, id, got[j], want[i+j])
				}
			}
			if end := ExplainCompany(e, id, evs, time.Time{}); !asOf.IsZero() && !reflect.DeepEqual(end.Scores, x.Scores) {
				moved++
			}
		}
		if !asOf.IsZero() && moved == 0 {
			t.Errorf("as of %v: no company differs from the end of the history: the time tests nothing", asOf)
		}
	}
}
