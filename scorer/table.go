package scorer

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
)

// The partition table, as goka's: each events partition owns the state
// of the contacts keyed to it, restored on assignment from the local
// snapshot or the compacted changelog (restore), moved to new rules
// (adopt), encoded for the changelog (encodeStates) and read by the score
// API (ScoreOf). The processor (processor.go) owns the tables; a batch's
// effects (effects.go) change them.

// partition is the state of one events partition: its contacts, scored
// under one engine, reflecting every message before next.
type partition struct {
	mu       sync.Mutex
	id       int
	engine   *scoring.Engine
	scorer   *scoring.Scorer
	contacts map[string]*scoring.Contact
	next     int64 // the offset of the first message not reflected
	// forgotten holds the markers of deleted contacts (forget.go).
	forgotten map[string]marker

	// dirty is reused by every batch: the contacts it changed.
	dirty map[*scoring.Contact]string
	// flight is the batches scored but not yet durable (pipeline.go).
	flight inflight
}

// restore builds the partition's table as of c.Committed: from the local
// snapshot when one matches the changelog, else from the changelog.
func (p *Processor) restore(ctx context.Context, c *stream.Claim) (*partition, error) {
	start := time.Now()
	e := p.Engine()
	if p.cfg.StateDir != "" {
		var part *partition
		ok := false
		end, err := stream.EndOffset(ctx, p.cfg.Brokers, p.cfg.Changelog, c.Partition)
		if err == nil {
			part, ok, err = readSnapshot(p.cfg.StateDir, p.cfg.Topic, c.Partition, c.Committed, end, e)
		}
		if err != nil {
			p.count("state", 1)
			p.cfg.Log.Warn().Err(err).Int("partition", c.Partition).Msg("unreadable snapshot: restoring from the changelog")
		}
		if ok {
			if err := p.checkHomes(part); err != nil {
				return nil, err
			}
			p.cfg.Log.Info().Int("partition", c.Partition).Int("contacts", len(part.contacts)).
				Dur("took", time.Since(start)).Int64("offset", c.Committed).Msg("restored partition state from the local snapshot")
			return part, nil
		}
	}
	part := &partition{id: c.Partition, engine: e, scorer: scoring.NewScorer(e), contacts: map[string]*scoring.Contact{}, next: c.Committed}
	bad := 0
	_, err := stream.RestorePartition(ctx, p.cfg.Brokers, p.cfg.Changelog, c.Partition, func(m stream.Record) error {
		if p.restoreRecord(part, m) {
			return nil
		}
		if applyState(part.contacts, e, m) != nil {
			bad++ // a state we cannot read is rebuilt from the events that follow
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("restore partition %d from %s: %w", c.Partition, p.cfg.Changelog, err)
	}
	if err := p.checkHomes(part); err != nil {
		return nil, err
	}
	if bad > 0 {
		p.count("state", bad)
		p.cfg.Log.Warn().Int("partition", c.Partition).Int("unreadable", bad).Msg("skipped unreadable contact states in the changelog")
	}
	p.cfg.Log.Info().Int("partition", c.Partition).Int("contacts", len(part.contacts)).
		Dur("took", time.Since(start)).Int64("offset", c.Committed).Msg("restored partition state")
	return part, nil
}

// applyState applies a changelog record that is no marker to contacts:
// a tombstone deletes the contact, a state replaces it; a state that does
// not decode changes nothing and is the error.
func applyState(contacts map[string]*scoring.Contact, e *scoring.Engine, m stream.Record) error {
	if m.Value == nil {
		delete(contacts, string(m.Key))
		return nil
	}
	st, err := e.Decode(m.Value)
	if err != nil {
		return err
	}
	contacts[string(m.Key)] = st
	return nil
}

// ReadStates reads a scorer changelog to its end, every partition, as an
// instance restores one on assignment: the latest state of every contact
// (a tombstone deletes; a forgotten contact's marker is no state). A state
// that does not decode with e is left out and passed to bad, when not nil.
// It returns the changelog's partition count.
func ReadStates(ctx context.Context, brokers []string, changelog string, e *scoring.Engine, bad func(m stream.Record, err error)) (states map[string]*scoring.Contact, partitions int, err error) {
	states = map[string]*scoring.Contact{}
	n, err := stream.ReadTopic(ctx, brokers, changelog, func(m stream.Record) error {
		if IsMarker(m.Key) {
			return nil
		}
		if err := applyState(states, e, m); err != nil && bad != nil {
			bad(m, err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return states, n, nil
}

// checkHomes refuses a partition's state that holds contacts whose home
// partition is another: state keyed to another partition count of the
// events topic, which scoring on would split.
func (p *Processor) checkHomes(part *partition) error {
	if p.cfg.Partitions <= 0 {
		return nil
	}
	strays, example := 0, ""
	for id := range part.contacts {
		if HomePartition([]byte(id), p.cfg.Partitions) != part.id {
			strays++
			example = id
		}
	}
	if strays == 0 {
		return nil
	}
	return partitionCountError(p.cfg.Topic, p.cfg.Partitions, part.id, strays, example)
}

// adopt moves the partition's state to new rules: unchanged groups keep
// their sums (see scoring's codec).
func (part *partition) adopt(e *scoring.Engine) {
	if part.engine == e {
		return
	}
	var buf []byte
	for id, c := range part.contacts {
		buf = part.engine.Encode(buf[:0], c)
		if moved, err := e.Decode(buf); err == nil {
			part.contacts[id] = moved
		}
	}
	part.engine, part.scorer = e, scoring.NewScorer(e)
}

// contact is the partition's state for a contact, new and empty the first
// time.
func (p *Processor) contact(part *partition, id string) *scoring.Contact {
	st := part.contacts[id]
	if st == nil {
		st = &scoring.Contact{}
		part.contacts[id] = st
		p.addContacts(1)
	}
	return st
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

// ScoreOf answers a contact's scores at asOf (zero: its latest event) from
// the state this instance holds; ok is false when no owned partition holds
// the contact.
func (p *Processor) ScoreOf(contactID string, asOf time.Time) (lines []backtest.Line, latest time.Time, ok bool) {
	p.mu.Lock()
	parts := slices.Collect(maps.Values(p.parts))
	p.mu.Unlock()
	for _, part := range parts {
		part.mu.Lock()
		st := part.contacts[contactID]
		if st == nil {
			part.mu.Unlock()
			continue
		}
		T := st.Latest
		if !asOf.IsZero() {
			T = asOf.UnixNano()
		}
		s := scoring.NewScorer(part.engine)
		for mi := range part.engine.Rules.Models {
			lines = append(lines, backtest.ScoreLine(s, contactID, st, mi, T))
		}
		latest = time.Unix(0, st.Latest).UTC()
		part.mu.Unlock()
		return lines, latest, true
	}
	return nil, time.Time{}, false
}
