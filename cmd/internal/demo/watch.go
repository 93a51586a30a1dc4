package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Watch prints one updating progress line a second until the scorer has
// read total events, the bridge has decided every crossing and the audit
// outbox is empty (two equal scrapes in a row), or timeout passes.
func Watch(ctx context.Context, scorerURL, bridgeURL string, total int, timeout time.Duration, w io.Writer) error {
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	tty := isTerminal(w)
	last, stable := "", 0
	for {
		s, err1 := Scrape(ctx, scorerURL)
		b, err2 := Scrape(ctx, bridgeURL)
		if err := errors.Join(err1, err2); err != nil {
			fmt.Fprintln(w)
			return fmt.Errorf("reading metrics: %w", err)
		}
		read := s.Sum("scorer_events_total")
		crossings := s.Sum("scorer_crossings_total")
		decided := b.Sum("bridge_crossings_total")
		line := fmt.Sprintf("[%3.0fs] events %6.0f/%d (scored %.0f, dup %.0f, dlq %.0f)  lag %.0f | crossings %.0f | bridge read %.0f, enrolled %.0f, held %.0f, lag %.0f, audit queue %.0f",
			time.Since(start).Seconds(), read, total, s.Sum("scorer_events_total", "outcome", "scored"),
			s.Sum("scorer_events_total", "outcome", "duplicate"), s.Sum("scorer_events_total", "outcome", "dead_letter"),
			s.Sum("scorer_consumer_lag"), crossings, decided, b.Sum("bridge_decisions_total", "kind", "enrolled"),
			b.Sum("bridge_held_crossings"), b.Sum("bridge_consumer_lag"), b.Sum("bridge_outbox_decisions"))
		if tty {
			fmt.Fprintf(w, "\r\033[K%s", line)
		} else if time.Since(start) < 2*time.Second || int(time.Since(start).Seconds())%5 == 0 {
			fmt.Fprintln(w, line)
		}
		done := read >= float64(total) && decided >= crossings && b.Sum("bridge_consumer_lag") == 0 && b.Sum("bridge_outbox_decisions") == 0
		// Two equal scrapes in a row: nothing is still in flight.
		key := fmt.Sprint(read, crossings, decided)
		if done && key == last {
			stable++
		} else {
			stable = 0
		}
		last = key
		if stable >= 1 {
			if tty {
				fmt.Fprintln(w)
			} else {
				fmt.Fprintln(w, line)
			}
			return nil
		}
		if time.Since(start) > timeout {
			fmt.Fprintln(w)
			return fmt.Errorf("not done after %s: events read %.0f of %d, crossings decided %.0f of %.0f", timeout, read, total, decided, crossings)
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(w)
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
