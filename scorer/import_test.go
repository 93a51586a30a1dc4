package scorer

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/analytics/analyticstest"
	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

// importEnv opens a database of the shared ClickHouse of the test's own
// (dropped at its end) and loads testdata/rules.
func importEnv(t *testing.T) (context.Context, *analytics.Store, *scoring.Engine) {
	t.Helper()
	dsn := analyticstest.DSN(t, "sb_import")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	store, err := analytics.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := testEngine(t)
	return ctx, store, e
}

// An imported history's ledger adds up, per contact and model, to exactly
// the backtest's score; importing it again changes nothing.
func TestImportLedgerEqualsBacktest(t *testing.T) {
	ctx, store, e := importEnv(t)
	data, err := os.ReadFile("../testdata/events/sample.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var want []backtest.Line
	if _, err := backtest.Run(e, bytes.NewReader(data), nil, backtest.Options{}, func(l backtest.Line) error {
		want = append(want, l)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		w := store.NewWriter(analytics.WriterOptions{})
		sum, err := Import(ctx, e, bytes.NewReader(data), w, store.EraseContacts, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if sum.Events == 0 || sum.Duplicates == 0 || sum.Crossings == 0 {
			t.Fatalf("summary %+v", sum)
		}
		crossings := 0
		for _, l := range want {
			got, err := store.Score(ctx, l.ContactID, l.Model)
			if err != nil {
				t.Fatal(err)
			}
			if wantPts, _ := rules.ToPoints(l.Score); got != wantPts {
				t.Fatalf("round %d: %s %s: ledger sums to %d, backtest %v", round, l.ContactID, l.Model, got, l.Score)
			}
			times, err := store.CrossingTimes(ctx, l.ContactID, l.Model)
			if err != nil {
				t.Fatal(err)
			}
			if len(times) != len(l.Crossings) {
				t.Fatalf("round %d: %s %s: %d crossings stored, backtest %d", round, l.ContactID, l.Model, len(times), len(l.Crossings))
			}
			for k := range times {
				if !times[k].Equal(l.Crossings[k]) {
					t.Fatalf("%s %s: crossing %v, backtest %v", l.ContactID, l.Model, times[k], l.Crossings[k])
				}
			}
			crossings += len(times)
		}
		if crossings == 0 {
			t.Fatal("no crossings compared")
		}
	}
}

// A deletion in an imported history forgets its contact as the live
// service does: a privacy deletion erases the rows imported before it and
// drops every later event of the contact; after a plain deletion, events
// that occurred before it are dropped and a later one starts the contact
// over.
func TestImportAppliesDeletions(t *testing.T) {
	ctx, store, e := importEnv(t)
	at := time.Date(2026, 10, 5, 10, 0, 0, 0, time.UTC)
	var history bytes.Buffer
	line := func(id, typ, contact string, minute int) {
		props := ""
		if typ == "form_submitted" {
			props = `,"properties":{"form":"demo_request"}`
		}
		fmt.Fprintf(&history, `{"id":%q,"type":%q,"contact_id":%q,"occurred_at":%q%s}`+"\n",
			id, typ, contact, at.Add(time.Duration(minute)*time.Minute).Format(time.RFC3339), props)
	}
	line("p1", "form_submitted", "c-private", 0)
	line("k1", "form_submitted", "c-kept", 0)
	line("d1", "form_submitted", "c-deleted", 0)
	line("p2", TypePrivacyDeleted, "c-private", 5)
	line("p3", "form_submitted", "c-private", 10) // after a privacy deletion: dropped
	line("d2", TypeContactDeleted, "c-deleted", 5)
	line("d3", "form_submitted", "c-deleted", 3)  // before the plain deletion: dropped
	line("d4", "form_submitted", "c-deleted", 10) // after it: starts the contact over

	w := store.NewWriter(analytics.WriterOptions{})
	sum, err := Import(ctx, e, bytes.NewReader(history.Bytes()), w, store.EraseContacts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if sum.Forgotten != 2 || sum.Suppressed != 2 || sum.Events != 4 || sum.Contacts != 2 {
		t.Errorf("summary %+v: want 2 forgotten, 2 suppressed, 4 events scored, 2 contacts", sum)
	}
	if err := store.WaitMutations(ctx); err != nil {
		t.Fatal(err)
	}
	left, err := store.ContactRows(ctx, "c-private")
	if err != nil {
		t.Fatal(err)
	}
	for table, n := range left {
		if n != 0 {
			t.Errorf("%d rows of the privacy-deleted contact left in %s", n, table)
		}
	}
	// The plain deletion keeps the history: d1 and d4, not the dropped d3
	// nor the deletion itself.
	kept, err := store.ContactRows(ctx, "c-deleted")
	if err != nil {
		t.Fatal(err)
	}
	if kept["touches"] != 2 {
		t.Errorf("c-deleted has %d touches, want 2 (d1, d4): %v", kept["touches"], kept)
	}
}
