package scorer

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// While a batch's history cannot be written (ClickHouse slow or down), the
// partition goes on scoring the batches behind it, up to MaxInFlight, and
// answers score reads, but commits nothing: no offset runs ahead of what is
// durable. Once the history is written, every queued batch is, in order,
// and the result is the backtest's.
func TestPipelineScoresAheadAndCommitsOnlyDurable(t *testing.T) {
	e, msgs := prepare(t, 120)
	rec := &gatedRecorder{gate: make(chan struct{})}
	const inFlight = 3
	in := startGated(t, e, rec, func(c *Config) { c.MaxInFlight = inFlight })
	e.produce(t, msgs)
	waitFor(t, "batches scored ahead of the blocked history", func() (bool, error) {
		return in.Processor.batchesInFlight.Load() == partitions*inFlight, nil
	}, in)
	in.mu.Lock()
	for p, n := range in.handled {
		if n <= 97 {
			t.Errorf("partition %d: %d messages handled while its first batch's history is blocked: not scored ahead", p, n)
		}
	}
	in.mu.Unlock()
	// Reads are not held by the blocked batch: the history stays blocked
	// until the gate closes below, so a read held by it would not answer
	// at all. A generous deadline tells the two apart without timing the
	// read (a 100 ms bound is within scheduling noise under -race on a
	// loaded two-core machine).
	read := make(chan bool, 1)
	go func() {
		_, _, ok := in.ScoreOf(e.events[0].ContactID, time.Time{})
		read <- ok
	}()
	select {
	case ok := <-read:
		if !ok {
			t.Error("a scored contact is unknown while its batch's history is blocked")
		}
	case <-time.After(10 * time.Second):
		close(rec.gate)
		t.Fatal("a score read did not answer within 10 s while the history was blocked: reads are held by the blocked batch")
	}
	time.Sleep(300 * time.Millisecond) // several commit intervals
	if lag, err := e.committedLag(t.Context()); err != nil || lag != int64(len(msgs)) {
		t.Fatalf("committed lag %d (%v) while nothing is durable, want %d: an offset ran ahead of its history", lag, err, len(msgs))
	}

	close(rec.gate)
	waitFor(t, "everything committed once the history is written", e.done(t), in)
	in.stop(t)
	checkAgainstBacktest(t, e)
}

// MaxInFlightEvents bounds the events scored ahead of what is durable
// across every partition, however many batches each may queue: with the
// history blocked, the partitions fill the budget and wait, commit
// nothing, and once the history is written finish as the backtest does.
func TestPipelineBoundsEventsInFlight(t *testing.T) {
	e, msgs := prepare(t, 400)
	rec := &gatedRecorder{gate: make(chan struct{})}
	const budget = 250 // under two batches of 97 a partition, over two batches
	in := startGated(t, e, rec, func(c *Config) { c.MaxInFlight, c.MaxInFlightEvents = 50, budget })
	e.produce(t, msgs)
	// Scored ahead until one more batch would not fit.
	waitFor(t, "the budget filled", func() (bool, error) {
		now, _ := in.Processor.events.inFlight()
		return now > budget-97, nil
	}, in)
	time.Sleep(300 * time.Millisecond) // several commit intervals and fetches
	now, peak := in.Processor.events.inFlight()
	if peak > budget {
		t.Errorf("%d events in flight at once, over the budget of %d", peak, budget)
	}
	if now >= len(msgs) {
		t.Errorf("%d events in flight: all of them, the budget did not hold", now)
	}
	if lag, err := e.committedLag(t.Context()); err != nil || lag != int64(len(msgs)) {
		t.Fatalf("committed lag %d (%v) while nothing is durable, want %d: an offset ran ahead of its history", lag, err, len(msgs))
	}
	close(rec.gate)
	waitFor(t, "everything committed once the history is written", e.done(t), in)
	if now, peak := in.Processor.events.inFlight(); now != 0 || peak > budget {
		t.Errorf("after the end: %d events in flight, %d at most, want 0 and at most %d", now, peak, budget)
	}
	in.stop(t)
	checkAgainstBacktest(t, e)
}

// startGated runs one processor over e's partitions in batches of at most
// 97, its history written through rec, with cfg adjusting its Config, and
// returns once it owns every partition.
func startGated(t *testing.T, e *env, rec *gatedRecorder, cfg func(*Config)) *instance {
	t.Helper()
	in := &instance{name: "p", log: &logBuffer{}, done: make(chan error, 1), handled: map[int]int{}}
	c := Config{
		Brokers: e.brokers, Changelog: "states", Topic: "events",
		Crossings:   producer(t, e.brokers, "crossings"),
		DeadLetters: producer(t, e.brokers, "dlq"),
		States:      producer(t, e.brokers, "states"),
		Recorder:    rec,
		Log:         zerolog.New(in.log),
	}
	cfg(&c)
	in.Processor = NewProcessor(c, e.engine)
	in.g = e.consumer(t, in)
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	go func() { in.done <- in.g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-in.done:
		case <-time.After(20 * time.Second):
		}
	})
	waitFor(t, "every partition owned", func() (bool, error) { return len(in.g.Assignment()) == partitions, nil }, in)
	return in
}
