package scorer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
)

// Producer is where the processor writes crossings, dead letters and the
// state changelog; *stream.Producer in production.
type Producer interface {
	Write(ctx context.Context, msgs ...stream.Record) error
}

// StateWriter writes contact states to one partition of the changelog;
// *stream.Producer in production.
type StateWriter interface {
	WritePartition(ctx context.Context, partition int, msgs ...stream.Record) error
}

// Config wires a Processor.
type Config struct {
	Brokers     []string
	Changelog   string // compacted topic of contact states, co-partitioned with events
	Crossings   Producer
	DeadLetters Producer
	States      StateWriter // writes to Changelog
	Recorder    Recorder
	Metrics     *Metrics
	Log         zerolog.Logger
	// StateDir, when set, keeps partition snapshots for fast restarts.
	StateDir string
	// Topic is the events topic (names the snapshots).
	Topic string
	// Partitions is the events topic's partition count. When set, an
	// event that arrives outside its key's murmur2 home partition is
	// forwarded there through Forward (which writes to Topic) rather than
	// scored, and a restored state holding contacts of another partition
	// is refused.
	Partitions int
	Forward    StateWriter
	// Accept bounds the events' occurred_at; the rest is dead-lettered.
	Accept TimeWindow
	// StateWriteTimeout bounds the changelog write of a batch (default
	// 4s); keep it well under the consumer group's rebalance timeout.
	StateWriteTimeout time.Duration
	// Scores, when set, gets each contact's lead-scores message when a
	// batch changes it (scores.go). ScoresTopic is its topic, read back
	// when a rule reload republishes (republish.go).
	Scores      Producer
	ScoresTopic string
	// Members, when the rules have company models, tracks contacts'
	// companies and sends their changes to the company aggregator.
	Members *Members
	// MaxInFlight is how many batches of a partition may be scored
	// ahead of what is durable (default 8, up to 16,000 events; see
	// pipeline.go).
	MaxInFlight int
	// MaxInFlightEvents bounds the events of all partitions scored and
	// not yet durable (default DefaultMaxInFlightEvents): a batch waits
	// while it would take more, unless nothing is in flight. With
	// MaxInFlight it bounds the memory the pipelining holds, whatever the
	// partitions owned, and the size of the group commits behind it.
	MaxInFlightEvents int
	// Erase, when set, deletes the ClickHouse rows of contacts a privacy
	// deletion forgets (forget.go): the service's
	// *analytics.Eraser.EraseContacts, which waits through an outage
	// until ctx ends; an error fails the batch.
	Erase func(ctx context.Context, contactIDs ...string) error
	// fault, in tests, fails a batch at a named step to stand in for a
	// crash there.
	fault func(step string) error
}

func (c Config) maxInFlight() int {
	if c.MaxInFlight > 0 {
		return c.MaxInFlight
	}
	return 8
}

// DefaultMaxInFlightEvents is Config.MaxInFlightEvents' default: six
// partitions' 8 batches of MaxBatch fit (more in flight measured no
// cheaper: the server's inserts grew, and so did the scorer's garbage).
const DefaultMaxInFlightEvents = 100_000

func (c Config) maxInFlightEvents() int {
	if c.MaxInFlightEvents > 0 {
		return c.MaxInFlightEvents
	}
	return DefaultMaxInFlightEvents
}

func (c Config) stateWriteTimeout() time.Duration {
	if c.StateWriteTimeout > 0 {
		return c.StateWriteTimeout
	}
	return 4 * time.Second
}

// Processor scores the events of the partitions this instance owns.
type Processor struct {
	cfg    Config
	engine atomic.Pointer[scoring.Engine]

	mu        sync.Mutex
	parts     map[int]*partition // owned now
	retained  map[int]*partition // revoked, kept in case the partition comes back
	contacts  atomic.Int64       // held in owned partitions
	restoring atomic.Int32       // partitions being restored now

	batchesInFlight atomic.Int64 // scored, not yet durable
	events          eventBudget  // events scored, not yet durable
}

// Restoring is the number of partitions whose state is being restored.
func (p *Processor) Restoring() int { return int(p.restoring.Load()) }

// NewProcessor returns a processor applying engine.
func NewProcessor(cfg Config, engine *scoring.Engine) *Processor {
	if cfg.Recorder == nil {
		cfg.Recorder = Discard{}
	}
	cfg.Accept = cfg.Accept.withDefaults()
	p := &Processor{cfg: cfg, parts: map[int]*partition{}, retained: map[int]*partition{}}
	p.engine.Store(engine)
	p.setVersionMetric("", engine.Rules.Version)
	return p
}

// Engine is the rule set being applied.
func (p *Processor) Engine() *scoring.Engine { return p.engine.Load() }

// SetEngine switches to new rules; each partition moves its state over
// before its next batch.
func (p *Processor) SetEngine(e *scoring.Engine) {
	old := p.engine.Swap(e)
	p.setVersionMetric(old.Rules.Version, e.Rules.Version)
}

func (p *Processor) setVersionMetric(old, now string) {
	if p.cfg.Metrics == nil {
		return
	}
	if old != "" {
		p.cfg.Metrics.RuleVersion.DeleteLabelValues(old)
	}
	p.cfg.Metrics.RuleVersion.WithLabelValues(now).Set(1)
}

// Assigned restores the partition's contacts: from memory when this
// instance held them at the committed offset, else from the changelog.
func (p *Processor) Assigned(ctx context.Context, c *stream.Claim) error {
	p.restoring.Add(1)
	defer p.restoring.Add(-1)
	if p.cfg.Members != nil {
		if err := p.cfg.Members.restore(ctx, c.Partition); err != nil {
			return err
		}
	}
	p.mu.Lock()
	kept := p.retained[c.Partition]
	delete(p.retained, c.Partition)
	p.mu.Unlock()
	if kept != nil && kept.next == c.Committed {
		p.own(kept)
		return nil
	}
	part, err := p.restore(ctx, c)
	if err != nil {
		return err
	}
	p.own(part)
	return nil
}

func (p *Processor) own(part *partition) {
	p.mu.Lock()
	p.parts[part.id] = part
	p.mu.Unlock()
	p.addContacts(len(part.contacts))
}

// Revoked keeps the state in memory: with eager rebalancing the partition
// usually comes straight back. It first waits (within ctx) until the
// batches in flight are durable, so the commit that follows covers them;
// if one could not be made durable, or ctx ends first, the partition's
// state is ahead of what was saved and is dropped instead (no snapshot):
// the next owner replays from the committed offset.
func (p *Processor) Revoked(ctx context.Context, c *stream.Claim) error {
	p.mu.Lock()
	owned := p.parts[c.Partition]
	p.mu.Unlock()
	if owned != nil {
		if err := owned.flight.settle(ctx); err != nil {
			if p.abandon(owned) {
				p.cfg.Log.Warn().Int("partition", c.Partition).Err(err).
					Msg("batches in flight at revoke were not made durable: the partition's state is dropped; its next owner replays them")
			}
			return nil
		}
	}
	p.mu.Lock()
	part := p.parts[c.Partition]
	if part != nil {
		delete(p.parts, c.Partition)
		p.retained[c.Partition] = part
	}
	p.mu.Unlock()
	if part != nil {
		part.mu.Lock()
		p.addContacts(-len(part.contacts))
		part.mu.Unlock()
	}
	if part != nil && p.cfg.StateDir != "" {
		part.mu.Lock()
		end, err := stream.EndOffset(ctx, p.cfg.Brokers, p.cfg.Changelog, c.Partition)
		if err == nil {
			err = writeSnapshot(p.cfg.StateDir, p.cfg.Topic, part, end)
		}
		part.mu.Unlock()
		if err != nil {
			// Not fatal: the changelog holds the same state.
			p.count("state", 1)
			p.cfg.Log.Warn().Err(err).Int("partition", c.Partition).Msg("could not write the local snapshot")
		}
	}
	return nil
}

// abandon forgets a partition whose batch did not become durable (its
// generation ended, or a durable step failed): its in-memory state is
// ahead of what was saved and must be neither reused nor snapshotted. It
// reports whether the partition was still owned.
func (p *Processor) abandon(part *partition) bool {
	p.mu.Lock()
	owned := p.parts[part.id] == part
	if owned {
		delete(p.parts, part.id)
	}
	p.mu.Unlock()
	if owned {
		part.mu.Lock()
		p.addContacts(-len(part.contacts))
		part.mu.Unlock()
	}
	return owned
}

func (p *Processor) addContacts(n int) {
	v := p.contacts.Add(int64(n))
	if p.cfg.Metrics != nil {
		p.cfg.Metrics.Contacts.Set(float64(v))
	}
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
	if err := p.events.take(len(msgs), p.cfg.maxInFlightEvents(), c.Done()); err != nil {
		return p.failed(c, part, err)
	}
	part.mu.Lock()
	part.adopt(p.Engine())
	if part.dirty == nil {
		part.dirty = make(map[*scoring.Contact]string, len(msgs))
	}
	clear(part.dirty)
	pd := &pending{batch: batch{dirty: part.dirty}, next: msgs[len(msgs)-1].Offset + 1, start: start, events: len(msgs)}
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
		p.events.give(pd.events)
		return p.failed(c, part, err)
	}
	p.inFlight(1)
	if run {
		go p.drain(ctx, c, part)
	}
	return nil
}

// scoreBatch scores a fetched batch in three passes: decode every message
// (dead-lettering the malformed), look every event's contact up, then
// apply the events in order with ApplyBatch, which fetches
// the state of the contacts a few events ahead while it scores: with many
// contacts that state is rarely in the CPU's cache, and a lookup and
// apply per message would wait for it every time.
func (p *Processor) scoreBatch(part *partition, msgs []stream.Record, b *batch) {
	evs := make([]events.Event, 0, len(msgs))
	for i := range msgs {
		if p.reroute(part, &msgs[i], b) {
			continue
		}
		if ev, ok := p.decode(&msgs[i], b); ok {
			evs = append(evs, ev)
		}
	}
	evs = p.forget(part, evs, b)
	items := make([]scoring.Item, len(evs))
	for i := range evs {
		items[i] = scoring.Item{Contact: p.contact(part, evs[i].ContactID), Event: &evs[i]}
	}
	part.scorer.Ledger = p.keepsLedger()
	before := p.scoresBefore(part, items)
	part.scorer.ApplyBatch(items, func(i int, o *scoring.Outcome) {
		p.collect(part, items[i].Contact, items[i].Event, o, b)
	})
	p.scoresAfter(part, before, b)
}

// reroute forwards a message that arrived outside its key's home
// partition (a producer with another partitioner wrote it) to that
// partition, where it is scored: a contact's state lives in one
// partition. It reports whether the message was taken care of.
func (p *Processor) reroute(part *partition, m *stream.Record, b *batch) bool {
	if p.cfg.Partitions <= 0 || len(m.Key) == 0 {
		return false // no key: decode dead-letters it
	}
	home := HomePartition(m.Key, p.cfg.Partitions)
	if home == part.id {
		return false
	}
	if from, hop := m.Header(HeaderReroutedFrom); hop {
		// Forwarded once already, and still not home: the partition
		// count changed under the running scorer. Never loop.
		err := fmt.Errorf("message keyed %q was forwarded from %s to its home partition and arrived in partition %d, not %d: did the events topic's partition count change?",
			m.Key, from, part.id, home)
		p.deadLetter(m, b, "reroute", err)
		return true
	}
	if b.forwards == nil {
		b.forwards = map[int][]stream.Record{}
	}
	b.forwards[home] = append(b.forwards[home], forward(m))
	p.outcome("rerouted")
	if p.cfg.Metrics != nil {
		p.cfg.Metrics.Rerouted.Inc()
	}
	p.cfg.Log.Debug().Int("partition", part.id).Int64("offset", m.Offset).Int("home", home).Msg("forwarded an event to its home partition")
	return true
}

// decode reads a message's event; a malformed one is dead-lettered.
func (p *Processor) decode(m *stream.Record, b *batch) (events.Event, bool) {
	decode := events.Decode
	if p.keepsLedger() {
		decode = events.DecodeKeepJSON // the touch stores the objects' text
	}
	ev, err := decode(m.Value)
	if err == nil && string(m.Key) != ev.ContactID {
		err = fmt.Errorf("event %q: message key %q is not its contact_id %q: a contact's events must share one partition", ev.ID, m.Key, ev.ContactID)
	}
	if err != nil {
		p.deadLetter(m, b, "decode", err)
		return events.Event{}, false
	}
	if err := p.cfg.Accept.check(ev.OccurredAt); err != nil {
		p.deadLetter(m, b, "timestamp", fmt.Errorf("event %q: %w", ev.ID, err))
		return events.Event{}, false
	}
	return ev, true
}

// scoreEvent applies one decoded event and collects its effects; it
// reports false for a duplicate, which changes nothing.
func (p *Processor) scoreEvent(part *partition, ev *events.Event, b *batch) bool {
	st := p.contact(part, ev.ContactID)
	part.scorer.Ledger = p.keepsLedger()
	return p.collect(part, st, ev, part.scorer.Apply(st, ev), b)
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
			p.events.give(groupEvents(group) + groupEvents(dropped))
			p.inFlight(-len(group) - len(dropped))
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
		p.events.give(groupEvents(group))
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
			return p.cfg.Members.send(ctx, gather(group, func(pd *pending) []stream.Record { return pd.members.changes }))
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

// writeForwards writes each home partition's forwarded events, in the
// order they arrived.
func (p *Processor) writeForwards(ctx context.Context, fw map[int][]stream.Record) error {
	if len(fw) == 0 {
		return nil
	}
	if p.cfg.Forward == nil {
		return errors.New("events to forward to their home partition, and no producer for the events topic")
	}
	homes := make([]int, 0, len(fw))
	for h := range fw {
		homes = append(homes, h)
	}
	slices.Sort(homes)
	for _, h := range homes {
		if err := p.cfg.Forward.WritePartition(ctx, h, fw[h]...); err != nil {
			return err
		}
	}
	return nil
}

func write(ctx context.Context, w Producer, msgs []stream.Record) error {
	if len(msgs) == 0 || w == nil {
		return nil
	}
	return w.Write(ctx, msgs...)
}

// errGenerationEnded stops a batch before it saves state: the partition
// may already belong to another member, whose newer state a late write of
// ours would overwrite in the changelog (compaction keeps the last write).
var errGenerationEnded = errors.New("the consumer generation ended")

func ended(c *stream.Claim) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}

// untilDone is ctx, also cancelled when done closes: waits on ClickHouse
// or Kafka end when the partition may have moved.
func untilDone(ctx context.Context, done <-chan struct{}) (context.Context, context.CancelFunc) {
	gctx, cancel := context.WithCancel(ctx)
	if done != nil {
		go func() {
			select {
			case <-done:
				cancel()
			case <-gctx.Done():
			}
		}()
	}
	return gctx, cancel
}

func (p *Processor) outcome(o string) {
	if p.cfg.Metrics != nil {
		p.cfg.Metrics.Events.WithLabelValues(o).Inc()
	}
}

func (p *Processor) count(kind string, n int) {
	if p.cfg.Metrics != nil {
		p.cfg.Metrics.Errors.WithLabelValues(kind).Add(float64(n))
	}
}
