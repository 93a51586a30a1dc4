package scorer

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/stream"
)

// A batch is scored in Handle and made durable behind it: Handle queues
// the batch's effects and the contacts' new states (encoded then, so later
// batches cannot change them) and returns to score the next one, while
// one goroutine per partition writes the queue in order. It takes every
// batch queued at once and writes them as one: dead letters, crossings,
// the touch history (one Flush, so ClickHouse gets large blocks), with
// company models the member changes and trackers (members.go), the
// states, then marks each batch's offset (stream.Claim.Track). The
// durability order of each batch is unchanged: no offset is marked before
// its effects and the states after them are acknowledged, and no state is
// written before the effects it implies. Handle waits while MaxInFlight
// batches of the partition are queued or being written. This file holds
// the queue; Handle, drain and durable, which use it, are the processor's
// (processor.go).

// pending is one scored batch waiting to be made durable.
type pending struct {
	batch
	states    *stateBuf
	stateMsgs []stream.Record
	// memberMsgs are the batch's encoded member trackers (members.go),
	// saved before the contacts' state.
	memberMsgs []stream.Record
	next       int64  // the offset after the batch
	events     int    // messages in the batch (Processor.events)
	done       func() // marks next once every batch before is done too
	start      time.Time
}

// stateBuf holds a batch's encoded states and the backing arrays of its
// history rows; recycled once the batch is durable (the recorder copies
// the rows it is given), so a batch allocates none of them.
type stateBuf struct {
	buf     []byte
	msgs    []stream.Record
	touches []analytics.Touch
	ledger  []analytics.LedgerRow
}

// inflight is a partition's queue of scored batches and the state of the
// goroutine that drains it. Its zero value is ready.
type inflight struct {
	mu      sync.Mutex
	queue   []*pending
	n       int  // batches queued or being written
	running bool // a drain goroutine owns the queue
	err     error
	changed chan struct{} // closed and replaced whenever n or err moves
	free    []*stateBuf
}

func (f *inflight) signalLocked() {
	if f.changed != nil {
		close(f.changed)
	}
	f.changed = make(chan struct{})
}

func (f *inflight) waitLocked() <-chan struct{} {
	if f.changed == nil {
		f.changed = make(chan struct{})
	}
	return f.changed
}

// room waits until fewer than max batches are in flight; it fails with
// the error of a batch that could not be made durable, or when the
// generation ends.
func (f *inflight) room(max int, ended <-chan struct{}) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.err == nil && f.n >= max {
		ch := f.waitLocked()
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ended:
			f.mu.Lock()
			return errGenerationEnded
		}
		f.mu.Lock()
	}
	return f.err
}

// push queues a batch; start says the caller must start the drain.
func (f *inflight) push(pd *pending) (start bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return false, f.err
	}
	f.queue = append(f.queue, pd)
	f.n++
	start = !f.running
	f.running = true
	return start, nil
}

// take hands the drain every queued batch; nil (and the drain must end)
// when there is none.
func (f *inflight) take() []*pending {
	f.mu.Lock()
	defer f.mu.Unlock()
	group := f.queue
	f.queue = nil
	if len(group) == 0 {
		f.running = false
		f.signalLocked()
	}
	return group
}

func (f *inflight) finish(group []*pending) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n -= len(group)
	for _, pd := range group {
		if len(f.free) < 2 {
			f.free = append(f.free, pd.states)
		}
	}
	f.signalLocked()
}

// fail records the first failure: the partition's memory is now ahead of
// what is durable, and nothing queued after it may be written. It returns
// the queued batches it dropped.
func (f *inflight) fail(err error) (dropped []*pending) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
	dropped = f.queue
	f.queue, f.n, f.running = nil, 0, false
	f.signalLocked()
	return dropped
}

// settle waits until every queued batch is durable; it returns the
// failure of one that could not be, or ctx's error.
func (f *inflight) settle(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.err == nil && (f.n > 0 || f.running) {
		ch := f.waitLocked()
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			f.mu.Lock()
			return fmt.Errorf("batches still being made durable: %w", ctx.Err())
		}
		f.mu.Lock()
	}
	return f.err
}

func (f *inflight) buffer() *stateBuf {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k := len(f.free); k > 0 {
		b := f.free[k-1]
		f.free = f.free[:k-1]
		return b
	}
	return &stateBuf{}
}

// groupEvents is the messages of a group of batches.
func groupEvents(group []*pending) (n int) {
	for _, pd := range group {
		n += pd.events
	}
	return n
}

// eventBudget counts the events of every partition scored and not yet
// durable, and makes a batch wait for room under a limit. Its zero value
// is ready.
type eventBudget struct {
	mu      sync.Mutex
	n       int
	peak    int           // the most in flight at once, for tests
	changed chan struct{} // closed and replaced whenever n falls
}

// take waits until n more events fit under limit (always when none is in
// flight: a batch larger than limit still goes, alone), then counts them;
// it fails when the generation ends first.
func (b *eventBudget) take(n, limit int, ended <-chan struct{}) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.n > 0 && b.n+n > limit {
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ended:
			b.mu.Lock()
			return errGenerationEnded
		}
		b.mu.Lock()
	}
	b.n += n
	b.peak = max(b.peak, b.n)
	return nil
}

// give hands back n events made durable, or dropped.
func (b *eventBudget) give(n int) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n -= n
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
}

// inFlight is the events in flight now and the most at once so far.
func (b *eventBudget) inFlight() (now, peak int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n, b.peak
}
