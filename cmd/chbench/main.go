// Command chbench measures the analytics writer's throughput into a real
// ClickHouse server and each report's time over synthetic histories.
//
//	go run ./cmd/chbench -dsn clickhouse://127.0.0.1:9000/default -touches 1000000,10000000
//
// Each size gets its own database (sb_bench_<n>), dropped afterwards unless
// -keep. Figures are printed, never asserted.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/scorebridge/scorebridge/analytics"
)

func main() {
	dsn := flag.String("dsn", os.Getenv("CLICKHOUSE_DSN"), "ClickHouse DSN (database part is replaced)")
	sizes := flag.String("touches", "1000000", "comma-separated history sizes")
	per := flag.Int("per-contact", 20, "average touches per contact")
	batch := flag.Int("batch", 100_000, "writer batch size")
	keep := flag.Bool("keep", false, "keep the benchmark databases")
	flag.Parse()
	if *dsn == "" {
		fmt.Fprintln(os.Stderr, "chbench: set -dsn or CLICKHOUSE_DSN (scripts/clickhouse.sh dsn)")
		os.Exit(2)
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "chbench: bad size %q\n", s)
			os.Exit(2)
		}
		if err := bench(*dsn, n, *per, *batch, *keep); err != nil {
			fmt.Fprintln(os.Stderr, "chbench:", err)
			os.Exit(1)
		}
	}
}

func dsnFor(dsn, db string) string {
	i := strings.LastIndex(dsn, "/")
	if i < len("clickhouse://") {
		return dsn + "/" + db
	}
	q := ""
	if j := strings.Index(dsn[i:], "?"); j >= 0 {
		q = dsn[i+j:]
	}
	return dsn[:i] + "/" + db + q
}

func bench(dsn string, touches, per, batch int, keep bool) error {
	ctx := context.Background()
	s, err := analytics.Open(ctx, dsnFor(dsn, fmt.Sprintf("sb_bench_%d", touches)))
	if err != nil {
		return err
	}
	defer s.Close()
	if !keep {
		defer s.DropDatabase(ctx)
	}
	fmt.Printf("== %d touches (ClickHouse %s, database %s)\n", touches, s.ServerVersion(), s.Database())

	contacts := touches / per
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t0 := time.Now()
	h := analytics.Synthetic(42, contacts, per, start)
	fmt.Printf("generated %d touches, %d crossings, %d enrollment events in %s\n",
		len(h.Touches), len(h.Crossings), len(h.Enrollments), time.Since(t0).Round(time.Millisecond))

	w := s.NewWriter(analytics.WriterOptions{BatchSize: batch, MaxBuffered: 4 * batch})
	t0 = time.Now()
	const chunk = 10_000 // as a consumer adds them
	for i := 0; i < len(h.Touches); i += chunk {
		if err := w.AddTouches(h.Touches[i:min(i+chunk, len(h.Touches))]...); err != nil {
			return err
		}
	}
	if err := w.Flush(ctx); err != nil {
		return err
	}
	el := time.Since(t0)
	fmt.Printf("writer: %d touches in %s = %.0f rows/s (batch %d, 12 columns)\n",
		len(h.Touches), el.Round(time.Millisecond), float64(len(h.Touches))/el.Seconds(), batch)
	if err := w.AddCrossings(h.Crossings...); err != nil {
		return err
	}
	if err := w.AddEnrollmentEvents(h.Enrollments...); err != nil {
		return err
	}
	if err := w.Close(ctx); err != nil {
		return err
	}
	contact := h.Touches[len(h.Touches)/2].ContactID
	h = analytics.SyntheticHistory{} // let the GC have it back before timing reports

	type run struct {
		name string
		f    func() (string, error)
	}
	attr := func(m analytics.Model, by string) func() (string, error) {
		return func() (string, error) {
			r, err := s.Attribution(ctx, analytics.AttributionQuery{Model: m, By: by})
			return fmt.Sprintf("%d conversions, %d without touches, %d keys", r.Conversions, r.NoTouch, len(r.Rows)), err
		}
	}
	runs := []run{
		{"attribution first by type", attr(analytics.ModelFirst, "type")},
		{"attribution linear by type", attr(analytics.ModelLinear, "type")},
		{"attribution w by type", attr(analytics.ModelW, "type")},
		{"attribution time-decay by channel", attr(analytics.ModelTimeDecay, "channel")},
		{"attribution u by utm_source (JSON property)", attr(analytics.ModelU, "utm_source")},
		{"attribution linear, 30-day window", func() (string, error) {
			r, err := s.Attribution(ctx, analytics.AttributionQuery{Model: analytics.ModelLinear,
				From: start.AddDate(0, 2, 0), To: start.AddDate(0, 3, 0), Lookback: 30 * 24 * time.Hour})
			return fmt.Sprintf("%d conversions", r.Conversions), err
		}},
		{"cadence by sequence", func() (string, error) {
			r, err := s.Cadence(ctx, analytics.CadenceQuery{By: "sequence"})
			return fmt.Sprintf("%d rows", len(r.Rows)), err
		}},
		{"cadence by owner", func() (string, error) {
			r, err := s.Cadence(ctx, analytics.CadenceQuery{By: "owner"})
			return fmt.Sprintf("%d rows", len(r.Rows)), err
		}},
		{"touches timeline of one contact", func() (string, error) {
			r, err := s.Timeline(ctx, contact)
			return fmt.Sprintf("%d entries", len(r.Entries)), err
		}},
	}
	for _, r := range runs {
		t0 := time.Now()
		what, err := r.f()
		if err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
		fmt.Printf("%-46s %8.2f s   (%s)\n", r.name, time.Since(t0).Seconds(), what)
	}
	return nil
}
