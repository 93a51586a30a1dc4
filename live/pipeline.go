package live

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/scoring"
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
// batches of the partition are queued or being written.

// pending is one scored batch waiting to be made durable.
type pending struct {
	batch
	states    *stateBuf
	stateMsgs []stream.Record
	// memberMsgs are the batch's encoded member trackers (members.go),
	// saved before the contacts' state.
	memberMsgs []stream.Record
	next       int64  // the offset after the batch
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
// how many queued batches it dropped.
func (f *inflight) fail(err error) (dropped int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
	dropped = len(f.queue)
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

// Handle scores a batch and queues its effects to be made durable in an
// order that makes a crash at any point harmless: dead letters and
// crossings, then the touch history, then the contacts' new state, then
// the offset. A crash before the state is saved replays the batch and
// re-announces its crossings under the same ids; after, the replayed
// events are already in the state's seen set and change nothing.
func (p *Processor) Handle(ctx context.Context, c *stream.Claim, msgs []stream.Record) error {
	start := time.Now()
	p.mu.Lock()
	part := p.parts[c.Partition]
	p.mu.Unlock()
	if part == nil {
		if ended(c) {
			return nil // abandoned: the partition has a new owner
		}
		return fmt.Errorf("partition %d: a batch before its state was restored", c.Partition)
	}
	// Room first, holding no lock (score reads take part.mu): the state
	// must never run ahead of the batches queued to make it durable.
	if err := part.flight.room(p.cfg.maxInFlight(), c.Done()); err != nil {
		return p.failed(c, part, err)
	}
	part.mu.Lock()
	part.adopt(p.Engine())
	if part.dirty == nil {
		part.dirty = make(map[*scoring.Contact]string, len(msgs))
	}
	clear(part.dirty)
	pd := &pending{batch: batch{dirty: part.dirty}, next: msgs[len(msgs)-1].Offset + 1, start: start}
	pd.states = part.flight.buffer()
	pd.touches, pd.ledger = pd.states.touches[:0], pd.states.ledger[:0]
	p.scoreBatch(part, msgs, &pd.batch)
	pd.states.touches, pd.states.ledger = pd.touches, pd.ledger
	pd.stateMsgs = part.encodeStates(part.dirty, pd.states)
	if p.cfg.Members != nil {
		pd.memberMsgs = p.cfg.Members.encode(&pd.members)
	}
	pd.dirty = nil
	part.next = pd.next
	part.mu.Unlock()
	pd.done = c.Track(pd.next)
	run, err := part.flight.push(pd)
	if err != nil {
		return p.failed(c, part, err)
	}
	p.inFlight(1)
	if run {
		go p.drain(ctx, c, part)
	}
	return nil
}

// failed handles a batch that cannot go on because an earlier one was not
// made durable (or the generation ended): the partition's in-memory state
// is ahead of what was saved, so it is dropped. After the generation's
// end that is expected (the new owner replays from the committed offset);
// before, the error stops the consumer.
func (p *Processor) failed(c *stream.Claim, part *partition, err error) error {
	if ended(c) || errors.Is(err, errGenerationEnded) {
		if p.abandon(part) {
			p.cfg.Log.Warn().Int("partition", c.Partition).Err(err).
				Msg("generation ended during a batch: its state is not saved and the partition's state dropped; the new owner replays it")
		}
		return nil
	}
	p.abandon(part)
	return err
}

// failedStep reports a batch whose durable step failed while the
// partition is still this member's: its state is dropped (by Revoked or
// the next Handle, never snapshotted) and the consumer stops.
func (p *Processor) failedStep(c *stream.Claim, err error) {
	p.cfg.Log.Error().Int("partition", c.Partition).Err(err).
		Msg("a durable step of a batch failed: the partition's state is dropped (no snapshot); the batch is replayed from the committed offset")
	c.Fail(err)
}

// drain makes the partition's queued batches durable, all queued at once,
// until the queue is empty or a batch fails; a failure stops the
// partition's consumer (stream.Claim.Fail) unless its generation ended.
func (p *Processor) drain(ctx context.Context, c *stream.Claim, part *partition) {
	for {
		group := part.flight.take()
		if group == nil {
			return
		}
		if err := p.durable(ctx, c, part, group); err != nil {
			dropped := part.flight.fail(err)
			p.inFlight(-len(group) - dropped)
			if !ended(c) {
				p.failedStep(c, err)
			}
			return
		}
		for _, pd := range group {
			pd.done()
			if p.cfg.Metrics != nil {
				p.cfg.Metrics.Batch.Observe(time.Since(pd.start).Seconds())
			}
		}
		p.inFlight(-len(group))
		part.flight.finish(group)
	}
}

func (p *Processor) inFlight(n int) {
	v := p.batchesInFlight.Add(int64(n))
	if p.cfg.Metrics != nil {
		p.cfg.Metrics.InFlight.Set(float64(v))
	}
}

// durable writes the effects of a group of consecutive batches, step by
// step, each step for all of them.
func (p *Processor) durable(ctx context.Context, c *stream.Claim, part *partition, group []*pending) error {
	ctx, stop := untilDone(ctx, c.Done())
	defer stop()
	steps := []struct {
		name string
		run  func() error
	}{
		{"forwards", func() error { return p.writeForwards(ctx, gatherForwards(group)) }},
		{"dead_letters", func() error {
			dl := gather(group, func(pd *pending) []stream.Record { return pd.deadLetters })
			return p.writeBounded(ctx, p.cfg.DeadLetters, dl, "dead_letter", stream.StripDeadLetter)
		}},
		{"crossings", func() error {
			xs := gather(group, func(pd *pending) []stream.Record { return pd.crossings })
			return p.writeBounded(ctx, p.cfg.Crossings, xs, "crossing", stripCrossing)
		}},
		{"scores", func() error {
			return write(ctx, p.cfg.Scores, gather(group, func(pd *pending) []stream.Record { return pd.scores }))
		}},
		{"history", func() error {
			r := p.cfg.Recorder
			for _, pd := range group {
				if err := errors.Join(r.AddTouches(pd.touches...), r.AddLedger(pd.ledger...), r.AddCrossings(pd.crossRows...)); err != nil {
					return err
				}
			}
			return r.Flush(ctx)
		}},
		{"forget", func() error { return p.eraseForgotten(ctx, group) }},
		{"company_changes", func() error {
			if p.cfg.Members == nil {
				return nil
			}
			return write(ctx, p.cfg.Members.Changes, gather(group, func(pd *pending) []stream.Record { return pd.members.changes }))
		}},
		{"members", func() error {
			if p.cfg.Members == nil {
				return nil
			}
			if ended(c) {
				return errGenerationEnded
			}
			sctx, cancel := context.WithTimeout(ctx, p.cfg.stateWriteTimeout())
			defer cancel()
			return p.cfg.Members.save(sctx, part.id, gather(group, func(pd *pending) []stream.Record { return pd.memberMsgs }))
		}},
		{"state", func() error {
			if ended(c) {
				return errGenerationEnded
			}
			msgs := changelogMsgs(group)
			if len(msgs) == 0 || p.cfg.States == nil {
				return nil
			}
			// Bounded well inside the group's rebalance timeout, so a
			// write cannot land after the partition was handed over.
			sctx, cancel := context.WithTimeout(ctx, p.cfg.stateWriteTimeout())
			defer cancel()
			// The changelog is co-partitioned with the events: a contact's
			// state goes where Assigned will look for it. A contact in
			// two batches of the group is written twice, in order: the
			// last record wins.
			if err := p.cfg.States.WritePartition(sctx, part.id, msgs...); err != nil {
				// A failed request may still be reading the buffers.
				for _, pd := range group {
					pd.states = &stateBuf{}
				}
				return err
			}
			return nil
		}},
	}
	for _, s := range steps {
		if p.cfg.fault != nil {
			if err := p.cfg.fault(s.name); err != nil {
				return err
			}
		}
		if err := s.run(); err != nil {
			p.count(s.name, 1)
			return fmt.Errorf("partition %d: %s: %w", part.id, s.name, err)
		}
	}
	return nil
}

// gather is the messages of every batch of the group, in order.
func gather(group []*pending, of func(*pending) []stream.Record) []stream.Record {
	if len(group) == 1 {
		return of(group[0])
	}
	n := 0
	for _, pd := range group {
		n += len(of(pd))
	}
	out := make([]stream.Record, 0, n)
	for _, pd := range group {
		out = append(out, of(pd)...)
	}
	return out
}

// gatherForwards is the group's forwarded events by home partition, each
// partition's in the order they arrived.
func gatherForwards(group []*pending) map[int][]stream.Record {
	if len(group) == 1 {
		return group[0].forwards
	}
	var out map[int][]stream.Record
	for _, pd := range group {
		for home, msgs := range pd.forwards {
			if out == nil {
				out = map[int][]stream.Record{}
			}
			out[home] = append(out[home], msgs...)
		}
	}
	return out
}

// encodeStates encodes the contacts into sb's reused buffer: one key and
// value after the other, no allocation per contact.
func (part *partition) encodeStates(dirty map[*scoring.Contact]string, sb *stateBuf) []stream.Record {
	type span struct{ key, value, end int }
	buf, msgs := sb.buf[:0], sb.msgs[:0]
	spans := make([]span, 0, len(dirty))
	for st, id := range dirty {
		k := len(buf)
		buf = append(buf, id...)
		v := len(buf)
		buf = part.engine.Encode(buf, st)
		spans = append(spans, span{k, v, len(buf)})
	}
	// Sliced once buf stopped moving.
	for _, sp := range spans {
		msgs = append(msgs, stream.Record{Key: buf[sp.key:sp.value:sp.value], Value: buf[sp.value:sp.end:sp.end]})
	}
	sb.buf, sb.msgs = buf, msgs
	return msgs
}
