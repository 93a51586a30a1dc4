package calibration

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/analytics/analyticstest"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/scorer"
	"github.com/scorebridge/scorebridge/synth"
)

// FromStore over the ledger a history was imported into equals
// FromHistory over that history (windows, decay, caps rebuilt in SQL at
// T0), with a query per model in the report's SQL; --model's names are
// checked against the rules.
func TestFromStoreEqualsFromHistory(t *testing.T) {
	dsn := analyticstest.DSN(t, "sb_calibration_store")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := engine(t, filepath.Join("..", "testdata", "rules"))
	cfg := synth.Default()
	cfg.Contacts, cfg.Days, cfg.Seed = 800, 40, 11
	var history bytes.Buffer
	enc := json.NewEncoder(&history)
	if err := synth.Generate(cfg, func(ev *events.Event) error { return enc.Encode(ev) }); err != nil {
		t.Fatal(err)
	}
	s, err := analytics.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := s.NewWriter(analytics.WriterOptions{})
	if _, err := scorer.Import(ctx, e, bytes.NewReader(history.Bytes()), w, s.EraseContacts, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	reopen := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(history.Bytes())), nil }
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	for _, asOf := range []time.Time{start.Add(15 * 24 * time.Hour), start.Add(28*24*time.Hour + 5*time.Hour)} {
		q, err := ParseQuery(asOf.Format(time.RFC3339), "meeting_booked", "7d", 8)
		if err != nil {
			t.Fatal(err)
		}
		want, _, _, err := FromHistory(e, bytes.NewReader(history.Bytes()), reopen, q, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := FromStore(ctx, s, StoredQuery{Query: q, Rules: e.Rules})
		if err != nil {
			t.Fatal(err)
		}
		wj, _ := json.Marshal(want)
		gj, _ := json.Marshal(got)
		if len(want.Models) == 0 || want.Models[0].Converted == 0 {
			t.Fatalf("T0 %s: no conversion in the population: the test would compare nothing (%s)", asOf, wj)
		}
		if string(gj) != string(wj) {
			t.Errorf("T0 %s: from the store\n%s\nfrom the history\n%s", asOf, gj, wj)
		}
		if len(got.SQL) != len(e.Rules.Models) || !strings.Contains(got.SQL[0], "FROM score_ledger FINAL") {
			t.Errorf("T0 %s: %d queries for %d models", asOf, len(got.SQL), len(e.Rules.Models))
		}
	}
	q, _ := ParseQuery(start.Format(time.RFC3339), "meeting_booked", "7d", 8)
	if _, err := FromStore(ctx, s, StoredQuery{Query: q, Rules: e.Rules, Models: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), `--model "nope"`) {
		t.Errorf("an unknown model: %v", err)
	}
	if _, err := FromStore(ctx, s, StoredQuery{Query: q}); err == nil || !strings.Contains(err.Error(), "--rules is required") {
		t.Errorf("no rules: %v", err)
	}
}
