package live

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
	in := &instance{name: "p", log: &logBuffer{}, done: make(chan error, 1), handled: map[int]int{}}
	in.Processor = NewProcessor(Config{
		Brokers: e.brokers, Changelog: "states", Topic: "events",
		Crossings:   producer(t, e.brokers, "crossings"),
		DeadLetters: producer(t, e.brokers, "dlq"),
		States:      producer(t, e.brokers, "states"),
		Recorder:    rec, MaxInFlight: inFlight,
		Log: zerolog.New(in.log),
	}, e.engine)
	in.g = e.consumer(t, in) // batches of at most 97
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
	// Reads are not held by the blocked batch.
	start := time.Now()
	if _, _, ok := in.ScoreOf(e.events[0].ContactID, time.Time{}); !ok {
		t.Error("a scored contact is unknown while its batch's history is blocked")
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("score read took %v while the history was blocked", d)
	}
	time.Sleep(300 * time.Millisecond) // several commit intervals
	if lag, err := e.committedLag(ctx); err != nil || lag != int64(len(msgs)) {
		t.Fatalf("committed lag %d (%v) while nothing is durable, want %d: an offset ran ahead of its history", lag, err, len(msgs))
	}

	close(rec.gate)
	waitFor(t, "everything committed once the history is written", e.done(t), in)
	in.stop(t)
	checkAgainstBacktest(t, e)
}
