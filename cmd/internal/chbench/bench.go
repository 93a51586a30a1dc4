// Package chbench measures the analytics writer's throughput into a real
// ClickHouse server and each report's time over a synthetic history
// (cmd/chbench runs it). Figures are printed, never asserted.
package chbench

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/scorebridge/scorebridge/analytics"
)

// dsnFor is dsn with its database replaced by db.
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

// Run writes a synthetic history of touches touches (per a contact on
// average) into a database of its own, sb_bench_<touches> on dsn's
// server, through the analytics writer in batches of batch, then times
// each report over it, printing the figures to out. The database is
// dropped afterwards unless keep.
func Run(ctx context.Context, out io.Writer, dsn string, touches, per, batch int, keep bool) error {
	s, err := analytics.Open(ctx, dsnFor(dsn, fmt.Sprintf("sb_bench_%d", touches)))
	if err != nil {
		return err
	}
	defer s.Close()
	if !keep {
		defer s.DropDatabase(ctx)
	}
	fmt.Fprintf(out, "== %d touches (ClickHouse %s, database %s)\n", touches, s.ServerVersion(), s.Database())

	contacts := touches / per
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t0 := time.Now()
	h := analytics.Synthetic(42, contacts, per, start)
	fmt.Fprintf(out, "generated %d touches, %d crossings, %d enrollment events in %s\n",
		len(h.Touches), len(h.Crossings), len(h.Enrollments), time.Since(t0).Round(time.Millisecond))

	wr := s.NewWriter(analytics.WriterOptions{BatchSize: batch, MaxBuffered: 4 * batch})
	t0 = time.Now()
	const chunk = 10_000 // as a consumer adds them
	for i := 0; i < len(h.Touches); i += chunk {
		if err := wr.AddTouches(h.Touches[i:min(i+chunk, len(h.Touches))]...); err != nil {
			return err
		}
	}
	if err := wr.Flush(ctx); err != nil {
		return err
	}
	el := time.Since(t0)
	fmt.Fprintf(out, "writer: %d touches in %s = %.0f rows/s (batch %d, 12 columns)\n",
		len(h.Touches), el.Round(time.Millisecond), float64(len(h.Touches))/el.Seconds(), batch)
	if err := wr.AddCrossings(h.Crossings...); err != nil {
		return err
	}
	if err := wr.AddEnrollmentEvents(h.Enrollments...); err != nil {
		return err
	}
	if err := wr.Close(ctx); err != nil {
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
		fmt.Fprintf(out, "%-46s %8.2f s   (%s)\n", r.name, time.Since(t0).Seconds(), what)
	}
	return nil
}
