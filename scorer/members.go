package scorer

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
)

// Members is the scorer's side of company models. For each contact it
// keeps the company and properties of its latest events (an
// accounts.Tracker) on a compacted changelog of its own, co-partitioned
// with the events; and for each event it scores it sends the contact's
// change to the company topic, keyed by company_id, which the company
// aggregator consumes (repartitioning by company, as a stream processor
// does).
//
// A batch writes its changes with its other effects, then the trackers it
// changed (encoded when it was scored), then (the processor) the contacts'
// state and the offset; a group of batches does each step for all of them
// (pipeline.go). The
// trackers are saved before the contacts' state: a crash between the two
// replays the batch, whose events are then new to the contact state and
// observed again, which a tracker shrugs off (the latest by time wins).
type Members struct {
	Brokers   []string
	Changelog string        // compacted, co-partitioned with the events
	Changes   ChangesWriter // the company topic, keyed by company_id
	States    StateWriter   // writes to Changelog
	// Partitions is the company topic's partition count: a contact's
	// deletion goes to each of them.
	Partitions int

	mu     sync.Mutex
	parts  map[int]map[string]*accounts.Tracker
	source *accounts.Source // for the rule set in use
}

// ChangesWriter writes to the company topic: changes through the
// partitioner (by company_id), deletions to each partition;
// *stream.Producer in production.
type ChangesWriter interface {
	Producer
	StateWriter
}

// memberBatch is what a batch did to members: the changes to send and the
// trackers to save.
type memberBatch struct {
	// changes are in the order made; a deletion (every company's) goes
	// to every partition (everyPartition, send).
	changes []stream.Record
	dirty   map[string]*accounts.Tracker
	// gone are the contacts the batch forgot: their trackers' tombstones.
	gone []string
}

func (m *Members) sourceFor(set *rules.Set) *accounts.Source {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.source == nil || m.source.Set != set {
		m.source = accounts.NewSource(set)
	}
	return m.source
}

// restore reads a partition's trackers from the changelog. It runs at
// every assignment: trackers are small, and the changelog is never behind
// the contact state it goes with.
func (m *Members) restore(ctx context.Context, partition int) error {
	trackers := map[string]*accounts.Tracker{}
	_, err := stream.RestorePartition(ctx, m.Brokers, m.Changelog, partition, func(msg stream.Record) error {
		if msg.Value == nil {
			delete(trackers, string(msg.Key))
			return nil
		}
		t, err := accounts.DecodeTracker(msg.Value)
		if err != nil {
			return nil // rebuilt from the contact's next events
		}
		trackers[string(msg.Key)] = &t
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore members of partition %d from %s: %w", partition, m.Changelog, err)
	}
	m.mu.Lock()
	if m.parts == nil {
		m.parts = map[int]map[string]*accounts.Tracker{}
	}
	m.parts[partition] = trackers
	m.mu.Unlock()
	return nil
}

// observe takes a scored event: the contact's tracker follows it, and the
// changes it makes join the batch. It returns the contact's company after
// the event (membership: its latest event naming one), "" when it has none
// or the rules have no company model.
func (m *Members) observe(partition int, set *rules.Set, st *scoring.Contact, ev *events.Event, o *scoring.Outcome, b *memberBatch) string {
	src := m.sourceFor(set)
	if src == nil {
		return ""
	}
	m.mu.Lock()
	trackers := m.parts[partition]
	m.mu.Unlock()
	if trackers == nil {
		return "" // not restored: Assigned failed, and the batch will not run
	}
	t := trackers[ev.ContactID]
	if t == nil {
		t = &accounts.Tracker{}
		trackers[ev.ContactID] = t
	}
	changes := src.Step(t, st, ev, o)
	// Only an event with a company or a contact snapshot can change a
	// tracker (a value, or the event a value is keyed by).
	if ev.CompanyID != "" || ev.Contact != nil {
		if b.dirty == nil {
			b.dirty = map[string]*accounts.Tracker{}
		}
		b.dirty[ev.ContactID] = t
	}
	for i := range changes {
		b.changes = append(b.changes, stream.Message(changes[i].To, accounts.AppendChange(nil, &changes[i])))
	}
	return t.Company.Value
}

// forget drops a deleted contact's tracker and sends the deletion to
// every partition of the company topic, whatever the tracker lists (it may
// have been saved by an older scorer that did not list the companies the
// contact left, or be missing): each company aggregator drops the contact
// from every company it holds, whose score is taken again without it. The
// tracker's tombstone is saved with the batch's trackers.
func (m *Members) forget(partition int, id, kind, eventID string, at time.Time, b *memberBatch) {
	m.mu.Lock()
	trackers := m.parts[partition]
	m.mu.Unlock()
	ch := accounts.Forget(id, kind, eventID, at)
	if t := trackers[id]; t != nil {
		delete(trackers, id)
		delete(b.dirty, id)
		b.gone = append(b.gone, id)
		// For an aggregator of an older scorer (a rolling upgrade), which
		// takes a deletion as its company's only: the contact's current
		// company at least.
		ch.To = t.Company.Value
	}
	b.changes = append(b.changes, stream.Record{Key: []byte(ch.To), Value: accounts.AppendChange(nil, &ch), Partition: everyPartition})
}

// everyPartition marks, in a memberBatch's changes, a deletion to write to
// every partition of the company topic (the partitioner never sees it).
const everyPartition = -1

// send writes a group's changes in order: a run of changes through the
// partitioner (keyed by company), a run of deletions to every partition of
// the company topic, one partition after the other. Each
// write returns once acknowledged, so a company's partition gets a
// contact's changes and deletions in the order they were made.
func (m *Members) send(ctx context.Context, msgs []stream.Record) error {
	for len(msgs) > 0 {
		n := 0
		for n < len(msgs) && msgs[n].Partition != everyPartition {
			n++
		}
		if err := write(ctx, m.Changes, msgs[:n]); err != nil {
			return err
		}
		msgs = msgs[n:]
		for n = 0; n < len(msgs) && msgs[n].Partition == everyPartition; n++ {
		}
		if n == 0 {
			continue
		}
		if m.Partitions <= 0 {
			return fmt.Errorf("%d contact deletions for the company topic, whose partition count is not known (Members.Partitions)", n)
		}
		for p := range m.Partitions {
			if err := m.Changes.WritePartition(ctx, p, msgs[:n]...); err != nil {
				return err
			}
		}
		msgs = msgs[n:]
	}
	return nil
}

// encode marshals the trackers a batch changed, while the batch still
// holds its partition: later batches change the same trackers while this
// one waits to be made durable (pipeline.go), and must neither race with
// the write nor run ahead of the contact state saved with it.
func (m *Members) encode(b *memberBatch) []stream.Record {
	if len(b.dirty)+len(b.gone) == 0 || m.States == nil {
		b.dirty, b.gone = nil, nil
		return nil
	}
	msgs := make([]stream.Record, 0, len(b.dirty)+len(b.gone))
	// A contact forgotten and then started again in the batch (a plain
	// deletion, then a later event) has both: the tombstone goes first.
	for _, id := range b.gone {
		msgs = append(msgs, stream.Record{Key: []byte(id)})
	}
	b.gone = nil
	for id, t := range b.dirty {
		msgs = append(msgs, stream.Message(id, accounts.AppendTracker(nil, t)))
	}
	b.dirty = nil
	return msgs
}

// save writes a group's encoded trackers to the partition's changelog; a
// contact in two batches of the group is written twice, in order, and the
// last record wins.
func (m *Members) save(ctx context.Context, partition int, msgs []stream.Record) error {
	if len(msgs) == 0 || m.States == nil {
		return nil
	}
	return m.States.WritePartition(ctx, partition, msgs...)
}
