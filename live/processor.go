package live

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
	"github.com/segmentio/kafka-go"
)

// Producer is where the processor writes crossings, dead letters and the
// state changelog; *stream.Producer in production.
type Producer interface {
	Write(ctx context.Context, msgs ...kafka.Message) error
}

// StateWriter writes contact states to one partition of the changelog;
// *stream.Producer in production.
type StateWriter interface {
	WritePartition(ctx context.Context, partition int, msgs ...kafka.Message) error
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
	// Erase, when set, deletes the ClickHouse rows of contacts a privacy
	// deletion forgets (forget.go); *analytics.Store.EraseContacts.
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
}

// Restoring is the number of partitions whose state is being restored.
func (p *Processor) Restoring() int { return int(p.restoring.Load()) }

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
				return err
			}
			p.cfg.Log.Info().Int("partition", c.Partition).Int("contacts", len(part.contacts)).
				Dur("took", time.Since(start)).Int64("offset", c.Committed).Msg("restored partition state from the local snapshot")
			p.own(part)
			return nil
		}
	}
	part := &partition{id: c.Partition, engine: e, scorer: scoring.NewScorer(e), contacts: map[string]*scoring.Contact{}, next: c.Committed}
	bad := 0
	_, err := stream.RestorePartition(ctx, p.cfg.Brokers, p.cfg.Changelog, c.Partition, func(m kafka.Message) error {
		if p.restoreRecord(part, m) {
			return nil
		}
		if m.Value == nil {
			delete(part.contacts, string(m.Key))
			return nil
		}
		st, err := e.Decode(m.Value)
		if err != nil {
			bad++ // a state we cannot read is rebuilt from the events that follow
			return nil
		}
		part.contacts[string(m.Key)] = st
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore partition %d from %s: %w", c.Partition, p.cfg.Changelog, err)
	}
	if err := p.checkHomes(part); err != nil {
		return err
	}
	if bad > 0 {
		p.count("state", bad)
		p.cfg.Log.Warn().Int("partition", c.Partition).Int("unreadable", bad).Msg("skipped unreadable contact states in the changelog")
	}
	p.cfg.Log.Info().Int("partition", c.Partition).Int("contacts", len(part.contacts)).
		Dur("took", time.Since(start)).Int64("offset", c.Committed).Msg("restored partition state")
	p.own(part)
	return nil
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

func (p *Processor) addContacts(n int) {
	v := p.contacts.Add(int64(n))
	if p.cfg.Metrics != nil {
		p.cfg.Metrics.Contacts.Set(float64(v))
	}
}

// batch collects a batch's effects before they are made durable.
type batch struct {
	forwards    map[int][]kafka.Message // by home partition
	crossings   []kafka.Message
	deadLetters []kafka.Message
	scores      []kafka.Message
	touches     []analytics.Touch
	ledger      []analytics.LedgerRow
	crossRows   []analytics.CrossingRow
	forgets     []forgetting // contacts the batch forgot (forget.go)
	// dirty maps the contacts the batch changed to their ids: keyed by
	// pointer, it hashes eight bytes and never reads a key's characters.
	dirty   map[*scoring.Contact]string
	members memberBatch
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

// scoreBatch scores a fetched batch in three passes: decode every message
// (dead-lettering the malformed), look every event's contact up, then
// apply the events in order with ApplyBatch, which fetches
// the state of the contacts a few events ahead while it scores: with many
// contacts that state is rarely in the CPU's cache, and a lookup and
// apply per message would wait for it every time.
func (p *Processor) scoreBatch(part *partition, msgs []kafka.Message, b *batch) {
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
func (p *Processor) reroute(part *partition, m *kafka.Message, b *batch) bool {
	if p.cfg.Partitions <= 0 || len(m.Key) == 0 {
		return false // no key: decode dead-letters it
	}
	home := HomePartition(m.Key, p.cfg.Partitions)
	if home == part.id {
		return false
	}
	if from, hop := stream.Header(*m, HeaderReroutedFrom); hop {
		// Forwarded once already, and still not home: the partition
		// count changed under the running scorer. Never loop.
		err := fmt.Errorf("message keyed %q was forwarded from %s to its home partition and arrived in partition %d, not %d: did the events topic's partition count change?",
			m.Key, from, part.id, home)
		p.deadLetter(m, b, "reroute", err)
		return true
	}
	if b.forwards == nil {
		b.forwards = map[int][]kafka.Message{}
	}
	b.forwards[home] = append(b.forwards[home], forward(m))
	p.outcome("rerouted")
	if p.cfg.Metrics != nil {
		p.cfg.Metrics.Rerouted.Inc()
	}
	p.cfg.Log.Debug().Int("partition", part.id).Int64("offset", m.Offset).Int("home", home).Msg("forwarded an event to its home partition")
	return true
}

// deadLetter sends m to the dead-letter topic with err as the reason.
func (p *Processor) deadLetter(m *kafka.Message, b *batch, kind string, err error) {
	d := stream.DeadLetter(*m, err.Error())
	if _, cut := stream.Header(d, stream.HeaderDLQTruncated); cut {
		p.bounded("dead_letter")
	}
	b.deadLetters = append(b.deadLetters, d)
	p.outcome("dead_letter")
	p.count(kind, 1)
	p.cfg.Log.Warn().Int("partition", m.Partition).Int64("offset", m.Offset).Str("kind", kind).Err(err).Msg("dead-lettered an event")
}

// decode reads a message's event; a malformed one is dead-lettered.
func (p *Processor) decode(m *kafka.Message, b *batch) (events.Event, bool) {
	ev, err := events.Decode(m.Value)
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

// keepsLedger: the recorder keeps touches and ledger rows, so scoring must
// give the per-group deltas.
func (p *Processor) keepsLedger() bool {
	_, discard := p.cfg.Recorder.(Discard)
	return !discard
}

// scoreEvent applies one decoded event and collects its effects; it
// reports false for a duplicate, which changes nothing.
func (p *Processor) scoreEvent(part *partition, ev *events.Event, b *batch) bool {
	st := p.contact(part, ev.ContactID)
	part.scorer.Ledger = p.keepsLedger()
	return p.collect(part, st, ev, part.scorer.Apply(st, ev), b)
}

// collect gathers what scoring ev into st did: outcome metrics, the dirty
// state, touches and ledger rows, crossings. It reports false for a
// duplicate, which changes nothing.
func (p *Processor) collect(part *partition, st *scoring.Contact, ev *events.Event, o *scoring.Outcome, b *batch) bool {
	if o.Duplicate {
		p.outcome("duplicate")
		return false
	}
	p.outcome("scored")
	if len(o.Errors) > 0 {
		p.count("expression", len(o.Errors))
		p.cfg.Log.Debug().Str("event_id", ev.ID).Str("contact_id", ev.ContactID).Err(o.Errors[0]).Msg("expression error: no match")
	}
	b.dirty[st] = ev.ContactID
	if p.cfg.Members != nil {
		p.cfg.Members.observe(part.id, part.engine.Rules, st, ev, o, &b.members)
	}
	version := part.engine.Rules.Version
	if part.scorer.Ledger {
		b.touches = append(b.touches, analytics.TouchFromEvent(*ev, version))
		b.ledger = appendLedger(b.ledger, part.engine.Rules, ev, o, version)
	}
	for _, h := range o.Hits {
		m := part.engine.Rules.Models[h.Model]
		th := m.Thresholds[h.Threshold]
		x := events.Crossing{
			CrossingID:    events.CrossingID(ev.ContactID, m.Name, th.Name, ev.ID),
			ContactID:     ev.ContactID,
			CompanyID:     ev.CompanyID,
			Model:         m.Name,
			Score:         rules.Float(h.Score),
			Threshold:     rules.Float(th.At),
			ThresholdName: th.Name,
			CrossedAt:     ev.OccurredAt,
			EventID:       ev.ID,
			RuleVersion:   version,
			Contact:       ev.Contact,
		}
		data, cut := boundCrossing(&x)
		if cut {
			p.bounded("crossing")
			p.cfg.Log.Warn().Str("contact_id", ev.ContactID).Str("event_id", ev.ID).Str("crossing_id", x.CrossingID).
				Int("contact_properties", len(ev.Contact)).Msg("crossing too large for Kafka: its contact snapshot is cut to what fits")
		}
		b.crossings = append(b.crossings, stream.Message(ev.ContactID, data))
		b.crossRows = append(b.crossRows, analytics.CrossingRow{
			CrossingID: x.CrossingID, ContactID: x.ContactID, CompanyID: x.CompanyID, Model: x.Model,
			ThresholdName: th.Name, Threshold: th.At, Score: h.Score, CrossedAt: x.CrossedAt,
			EventID: x.EventID, RuleVersion: version,
		})
		if p.cfg.Metrics != nil {
			p.cfg.Metrics.Crossings.WithLabelValues(m.Name, th.Name).Inc()
		}
		p.cfg.Log.Info().Str("contact_id", ev.ContactID).Str("model", m.Name).Str("threshold", th.Name).
			Float64("score", x.Score).Str("event_id", ev.ID).Str("crossing_id", x.CrossingID).Msg("threshold crossed")
	}
	return true
}

// marshalCrossing is encoding/json's encoding of x without HTML escaping
// (no browser reads it, and escaping makes each '<', '>' or '&' six
// bytes), three times faster: goccy/go-json sorts map keys and escapes
// as encoding/json does (crossing_test.go holds them to the same bytes).
func marshalCrossing(x *events.Crossing) []byte {
	data, err := gojson.MarshalWithOption(x, gojson.DisableHTMLEscape())
	if err != nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.Encode(x) // plain types: cannot fail
		data = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	return data
}

// appendLedger writes, per model and group, the points the rule awarded
// for this event and how much the group's clamped sum moved; the
// _total_clamp rows carry the total clamp, so deltas add up to the score.
func appendLedger(rows []analytics.LedgerRow, set *rules.Set, ev *events.Event, o *scoring.Outcome, version string) []analytics.LedgerRow {
	for _, mr := range o.Models {
		m := set.Models[mr.Model]
		start := len(rows)
		// The model's row for group g, added when first met: a few rows
		// an event, so a scan beats a map allocated per event.
		at := func(g int) int {
			name := analytics.TotalClampGroup
			if g >= 0 {
				name = m.Groups[g].Name
			}
			for i := start; i < len(rows); i++ {
				if rows[i].Group == name {
					return i
				}
			}
			rows = append(rows, analytics.LedgerRow{
				ContactID: ev.ContactID, Model: m.Name, EventID: ev.ID, Group: name,
				OccurredAt: ev.OccurredAt, RuleVersion: version,
			})
			return len(rows) - 1
		}
		// at may grow rows: index only once it returned.
		for _, a := range o.Awards {
			if a.Model == mr.Model {
				i := at(a.Group)
				rows[i].Points = a.Points
			}
		}
		for _, d := range mr.Deltas {
			i := at(d.Group)
			rows[i].Delta = d.Delta
		}
	}
	return rows
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

// writeForwards writes each home partition's forwarded events, in the
// order they arrived.
func (p *Processor) writeForwards(ctx context.Context, fw map[int][]kafka.Message) error {
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

func write(ctx context.Context, w Producer, msgs []kafka.Message) error {
	if len(msgs) == 0 || w == nil {
		return nil
	}
	return w.Write(ctx, msgs...)
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

// ScoreOf answers a contact's scores at asOf (zero: its latest event) from
// the state this instance holds; ok is false when no owned partition holds
// the contact.
func (p *Processor) ScoreOf(contactID string, asOf time.Time) (lines []backtest.Line, latest time.Time, ok bool) {
	p.mu.Lock()
	parts := make([]*partition, 0, len(p.parts))
	for _, part := range p.parts {
		parts = append(parts, part)
	}
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
