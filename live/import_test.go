package live

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

// An imported history's ledger adds up, per contact and model, to exactly
// the backtest's score; importing it again changes nothing.
func TestImportLedgerEqualsBacktest(t *testing.T) {
	dsn := os.Getenv("CLICKHOUSE_DSN")
	if dsn == "" {
		t.Skip("CLICKHOUSE_DSN is not set: run scripts/test.sh, which starts a ClickHouse server")
	}
	i := strings.LastIndex(dsn, "/")
	dsn = dsn[:i+1] + fmt.Sprintf("sb_import_%d", rand.Uint32())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	store, err := analytics.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	defer store.DropDatabase(context.Background())

	set, err := rules.Load("../testdata/rules")
	if err != nil {
		t.Fatal(err)
	}
	e, _ := scoring.NewEngine(set)
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
		sum, err := Import(ctx, e, bytes.NewReader(data), w, nil)
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
