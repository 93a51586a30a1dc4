package scorer

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// gatedRecorder stands in for ClickHouse during an outage: Flush waits
// until the gate opens, as analytics.Writer retries until it is back.
type gatedRecorder struct {
	Discard
	gate    chan struct{}
	blocked atomic.Int32
}

func (g *gatedRecorder) Flush(ctx context.Context) error {
	g.blocked.Add(1)
	defer g.blocked.Add(-1)
	<-g.gate
	return nil
}

// A member stuck in a batch (here: ClickHouse down during the history
// step) cannot rejoin a rebalance, so the group drops it and another
// member takes its partitions, restores them from the changelog and moves
// on. When the stuck batch resumes, it writes its contacts' states, now
// older than the new owner's, to the changelog: the last record per key
// wins, so a later restore loses the new owner's events for those
// contacts. The offsets are not affected (the zombie's commit is refused),
// so nothing replays them.
//
// The processor guards against it: a batch whose generation ended (the
// claim's Done) writes no state and commits nothing, and its partition's
// in-memory state is dropped. This recorder even ignores cancellation,
// the worst case.
func TestZombieChangelogWrite(t *testing.T) {
	e, msgs := prepare(t, 120)
	n := len(msgs)
	rec := &gatedRecorder{gate: make(chan struct{})}
	a := &instance{name: "a", log: &logBuffer{}, done: make(chan error, 1), handled: map[int]int{}}
	a.Processor = NewProcessor(Config{
		Brokers: e.brokers, Changelog: "states", Topic: "events",
		Crossings:   producer(t, e.brokers, "crossings"),
		DeadLetters: producer(t, e.brokers, "dlq"),
		States:      producer(t, e.brokers, "states"),
		Recorder:    rec,
		Log:         zerolog.New(a.log),
	}, e.engine)
	a.g = e.consumer(t, a)
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go func() { a.done <- a.g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-a.done:
		case <-time.After(20 * time.Second):
		}
	})
	waitFor(t, "a owns every partition", func() (bool, error) { return len(a.g.Assignment()) == partitions, nil }, a)
	e.produce(t, msgs[:n/2])
	waitFor(t, "a stuck in the history step", func() (bool, error) { return rec.blocked.Load() > 0, nil }, a)

	b := e.start(t, "b", "")
	waitFor(t, "b owns every partition (a dropped)", func() (bool, error) { return len(b.g.Assignment()) == partitions, nil }, b)
	e.produce(t, msgs[n/2:])
	waitFor(t, "b committed everything", e.done(t), b)

	close(rec.gate) // ClickHouse is back: a's stuck batches finish
	waitFor(t, "a's stuck batches finished", func() (bool, error) { return rec.blocked.Load() == 0, nil })
	time.Sleep(500 * time.Millisecond)
	a.stop(t)
	b.stop(t)
	checkAgainstBacktest(t, e)
}
