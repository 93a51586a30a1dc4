package scorer

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/companyscores"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/stream"
)

// CompanyRecorder keeps company score changes (ClickHouse's
// company_scores): the service's analytics.Writer, which buffers them with
// the touch history and retries through outages. The aggregator commits a
// batch's offset only after Flush returns.
type CompanyRecorder interface {
	AddCompanyScores(rows ...analytics.CompanyScoreRow) error
	Flush(ctx context.Context) error
}

// CompanyConfig wires a CompanyAggregator.
type CompanyConfig struct {
	Brokers   []string
	Changelog string      // compacted, co-partitioned with the company topic
	Crossings Producer    // the crossings topic, shared with contacts
	Scores    Producer    // the company-scores topic; nil: none published
	States    StateWriter // writes to Changelog
	Recorder  CompanyRecorder
	// Erase deletes the company_scores rows of contacts a privacy
	// deletion forgot, once the batch's rows are stored: the service's
	// *analytics.Eraser.EraseCompanyScores, which waits through an outage
	// until ctx ends (the claim's generation).
	Erase   func(ctx context.Context, contactIDs ...string) error
	Metrics *CompanyMetrics
	Log     zerolog.Logger
	// fault, in tests, fails a batch at a named step.
	fault func(step string) error
}

// CompanyAggregator consumes the company topic (contacts' member changes
// keyed by company_id) in a consumer group of its own and keeps, per
// company, an accounts.Aggregate: the company models' scores and armed
// thresholds. Like the contact processor it makes each batch's effects
// durable first (crossings, then company_scores rows), then the
// companies' state on its compacted changelog, then the offset: a crash
// replays the batch from the saved state and re-announces its crossings
// under the same ids.
//
// A contact's deletion (accounts.Forget: every company's, sent to every
// partition) drops it from every company of the partition holding a view
// of it (companyPart.holders), whose scores are taken again without it; a
// batch applies its deletions before its other changes. After a privacy
// deletion the rows of the company_scores it caused are erased, the rows
// and crossings of the change name no contact, and a marker of the
// contact, written to the changelog before the batch's effects, drops its
// later changes and, after a restore, the views a failed batch did not
// save without it: nothing published once the partition has read the
// deletion names the contact.
type CompanyAggregator struct {
	cfg CompanyConfig
	set atomic.Pointer[rules.Set]

	mu       sync.Mutex
	parts    map[int]*companyPart
	retained map[int]*companyPart
}

type companyPart struct {
	mu   sync.Mutex
	id   int
	aggs map[string]*accounts.Aggregate
	// legacy are companies restored from a whole-aggregate record (an
	// older scorer's): the first batch that changes one writes all its
	// members, before compaction may drop that record.
	legacy map[string]bool
	next   int64
	// held is len(aggs), for the gauge: other partitions' batches change
	// aggs while it sums every partition's.
	held atomic.Int64
	// holders indexes aggs: for each contact, the companies holding a
	// view of it, where its deletion goes. nil until index builds it
	// (after a restore).
	holders map[string][]string
	// erased are the contacts a privacy deletion forgot (the markers on
	// the changelog), with the deletion's time (Unix ns): their changes
	// are dropped, whatever their time.
	erased map[string]int64
	// pending are erased contacts still held after a restore: a batch
	// wrote their markers, then failed before it saved the companies
	// without them. The next batch drops them first (index).
	pending []string
}

// CompanyMetrics are the aggregator's series.
type CompanyMetrics struct {
	Changes   *prometheus.CounterVec // by outcome: applied, forgotten, stale, suppressed, malformed
	Crossings *prometheus.CounterVec // by model, threshold
	Companies prometheus.Gauge
}

// NewCompanyMetrics registers the aggregator's series.
func NewCompanyMetrics(reg prometheus.Registerer) *CompanyMetrics {
	m := &CompanyMetrics{
		Changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scorer_company_changes_total", Help: "Contact changes the company aggregator read, by outcome (applied, forgotten, stale, suppressed, malformed).",
		}, []string{"outcome"}),
		Crossings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scorer_company_crossings_total", Help: "Company threshold crossings announced, by company model and threshold.",
		}, []string{"model", "threshold"}),
		Companies: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "scorer_companies", Help: "Companies whose state this instance holds.",
		}),
	}
	reg.MustRegister(m.Changes, m.Crossings, m.Companies)
	return m
}

// NewCompanyAggregator returns an aggregator applying set's company models.
func NewCompanyAggregator(cfg CompanyConfig, set *rules.Set) *CompanyAggregator {
	a := &CompanyAggregator{cfg: cfg, parts: map[int]*companyPart{}, retained: map[int]*companyPart{}}
	a.set.Store(set)
	return a
}

// SetRules switches to a new rule set (a reload).
func (a *CompanyAggregator) SetRules(set *rules.Set) { a.set.Store(set) }

// Assigned restores a partition's companies: from memory when this
// instance held them at the committed offset, else from the changelog.
func (a *CompanyAggregator) Assigned(ctx context.Context, c *stream.Claim) error {
	a.mu.Lock()
	kept := a.retained[c.Partition]
	delete(a.retained, c.Partition)
	a.mu.Unlock()
	if kept == nil || kept.next != c.Committed {
		kept = &companyPart{id: c.Partition, aggs: map[string]*accounts.Aggregate{}, next: c.Committed}
		bad := 0
		_, err := stream.RestorePartition(ctx, a.cfg.Brokers, a.cfg.Changelog, c.Partition, func(m stream.Record) error {
			if !kept.restore(m) {
				bad++
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("restore company partition %d from %s: %w", c.Partition, a.cfg.Changelog, err)
		}
		if bad > 0 {
			a.cfg.Log.Warn().Int("partition", c.Partition).Int("unreadable", bad).Msg("skipped unreadable company states")
		}
	}
	kept.held.Store(int64(len(kept.aggs)))
	a.mu.Lock()
	a.parts[c.Partition] = kept
	a.mu.Unlock()
	a.gauge()
	return nil
}

// The company changelog holds, per company, one record per contact it
// holds a view of (key: company NUL contact, value accounts.AppendMember)
// and one of its standing in its models (key: company, value
// accounts.AppendStanding): a batch writes the contacts it changed and the
// companies whose scores moved, not whole companies. Beside them are the
// markers of contacts forgotten for privacy (MarkerKey, forget.go).
func memberKey(company, contact string) []byte {
	k := make([]byte, 0, len(company)+1+len(contact))
	return append(append(append(k, company...), 0), contact...)
}

func (part *companyPart) agg(id string) *accounts.Aggregate {
	agg := part.aggs[id]
	if agg == nil {
		agg = accounts.NewAggregate(id)
		part.aggs[id] = agg
	}
	return agg
}

// index builds holders from aggs when a restore left it unbuilt, and
// lists the erased contacts a company still holds as pending.
func (part *companyPart) index() {
	if part.holders != nil {
		return
	}
	part.holders = map[string][]string{}
	part.pending = part.pending[:0]
	for id, agg := range part.aggs {
		for cid := range agg.Contacts {
			part.holders[cid] = append(part.holders[cid], id)
			if _, gone := part.erased[cid]; gone && len(part.holders[cid]) == 1 {
				part.pending = append(part.pending, cid)
			}
		}
	}
	sort.Strings(part.pending)
}

// hold records that company holds a view of contact.
func (part *companyPart) hold(contact, company string) {
	if !slices.Contains(part.holders[contact], company) {
		part.holders[contact] = append(part.holders[contact], company)
	}
}

// restore takes a changelog record into the partition; false when it is
// unreadable.
func (part *companyPart) restore(m stream.Record) bool {
	part.holders = nil
	if IsMarker(m.Key) {
		return part.restoreMarker(m)
	}
	key := string(m.Key)
	if company, contact, ok := strings.Cut(key, "\x00"); ok {
		if m.Value == nil {
			if agg := part.aggs[company]; agg != nil {
				delete(agg.Contacts, contact)
			}
			return true
		}
		mb, err := accounts.DecodeMember(m.Value)
		if err != nil || mb.ContactID != contact {
			return false
		}
		part.agg(company).Contacts[contact] = &mb
		return true
	}
	if m.Value == nil {
		delete(part.aggs, key)
		delete(part.legacy, key)
		return true
	}
	agg, whole, err := accounts.DecodeCompany(m.Value)
	if err != nil || whole && agg.CompanyID != key {
		return false
	}
	if agg.Models == nil {
		agg.Models = map[string]*accounts.ModelState{}
	}
	if whole {
		if agg.Contacts == nil {
			agg.Contacts = map[string]*accounts.Member{}
		}
		part.aggs[key] = &agg
		if part.legacy == nil {
			part.legacy = map[string]bool{}
		}
		part.legacy[key] = true
		return true
	}
	to := part.agg(key)
	to.Models, to.Latest = agg.Models, agg.Latest
	return true
}

// Revoked keeps the partition's state in memory for a quick return; it is
// already durable.
func (a *CompanyAggregator) Revoked(ctx context.Context, c *stream.Claim) error {
	a.mu.Lock()
	if part := a.parts[c.Partition]; part != nil {
		delete(a.parts, c.Partition)
		a.retained[c.Partition] = part
	}
	a.mu.Unlock()
	a.gauge()
	return nil
}

func (a *CompanyAggregator) gauge() {
	if a.cfg.Metrics == nil {
		return
	}
	a.mu.Lock()
	n := 0
	for _, p := range a.parts {
		n += int(p.held.Load())
	}
	a.mu.Unlock()
	a.cfg.Metrics.Companies.Set(float64(n))
}

// Handle applies a batch of changes, deletions first, then makes its
// effects durable in order: the markers of the contacts it erases,
// crossings, company-scores messages, company_scores rows, their erasure
// for privacy deletions, the companies' state, the offset.
func (a *CompanyAggregator) Handle(ctx context.Context, c *stream.Claim, msgs []stream.Record) error {
	a.mu.Lock()
	part := a.parts[c.Partition]
	a.mu.Unlock()
	if part == nil {
		if ended(c) {
			return nil
		}
		return fmt.Errorf("company partition %d: a batch before its state was restored", c.Partition)
	}
	// part.mu is held while the batch changes the companies, not while
	// its steps wait (for ClickHouse, say): score reads go on meanwhile.
	// Handle is the only writer of the partition's companies, called
	// once at a time.
	part.mu.Lock()
	part.index()
	set := a.set.Load()
	var crossings []stream.Record
	var rows []analytics.CompanyScoreRow
	var erase []string          // contacts a privacy deletion of the batch forgot
	var markers []stream.Record // the markers of the contacts it erased
	// What the state step writes: the views of contacts the batch changed
	// (nil: dropped) and the standing of the companies it changed (nil:
	// the company is gone).
	dirtyMembers := map[[2]string]*accounts.Member{}
	dirty := map[string]*accounts.Aggregate{}
	before := map[string]companyscores.Message{} // each company's message before the batch
	changes := make([]accounts.Change, len(msgs))
	ok := make([]bool, len(msgs))
	var lastForget map[string]int // the batch's last deletion of each contact
	for i := range msgs {
		var err error
		if changes[i], err = decodeChange(&msgs[i]); err != nil {
			a.changeOutcome("malformed")
			a.cfg.Log.Warn().Int("partition", c.Partition).Int64("offset", msgs[i].Offset).Err(err).Msg("skipped a malformed company change")
			continue
		}
		ok[i] = true
		if changes[i].Forget != "" {
			if lastForget == nil {
				lastForget = map[string]int{}
			}
			lastForget[changes[i].ContactID] = i
		}
	}
	// apply takes one change (a deletion: as one company receives it)
	// into agg, and queues what it does.
	apply := func(ch *accounts.Change, agg *accounts.Aggregate) {
		// The company's message before the batch, to tell whether the
		// batch changed it: taken before the first change that may move
		// it (the ones before did not), or a deletion (which may take
		// the company's state away).
		if _, ok := before[ch.To]; !ok && a.cfg.Scores != nil && (ch.Forget != "" || agg.Moves(set.Companies, ch)) {
			before[ch.To] = companyscores.Build(set, agg)
		}
		had := agg.Contacts[ch.ContactID] != nil
		xs, changed := agg.Apply(set.Companies, ch)
		if !had && agg.Contacts[ch.ContactID] != nil {
			part.hold(ch.ContactID, ch.To)
		}
		// The contact's view, and the company's standing (small: its
		// scores are as of this change now).
		dirtyMembers[[2]string{ch.To, ch.ContactID}] = agg.Contacts[ch.ContactID]
		dirty[ch.To] = agg
		if part.legacy[ch.To] {
			delete(part.legacy, ch.To)
			for id, mb := range agg.Contacts {
				dirtyMembers[[2]string{ch.To, id}] = mb
			}
		}
		if len(agg.Contacts) == 0 {
			// Its last contact forgotten: the company's state goes (a
			// tombstone on the changelog).
			delete(part.aggs, ch.To)
			part.held.Add(-1)
			dirty[ch.To] = nil
		}
		for _, s := range changed {
			rows = append(rows, companyScoreRow(s, ch, set))
		}
		for _, x := range xs {
			crossings = append(crossings, stream.Message(x.CompanyID, marshalCrossing(companyCrossing(x, set.Version))))
			if a.cfg.Metrics != nil {
				a.cfg.Metrics.Crossings.WithLabelValues(x.Model, x.Threshold.Name).Inc()
			}
			a.cfg.Log.Info().Str("company_id", x.CompanyID).Str("model", x.Model).Str("threshold", x.Threshold.Name).
				Float64("score", rules.Float(x.Score)).Str("contact_id", x.ContactID).Str("event_id", x.EventID).
				Str("crossing_id", x.ID).Msg("company threshold crossed")
		}
	}
	// forget drops a deleted contact from every company of the partition
	// holding a view of it, in company order.
	forget := func(ch *accounts.Change) bool {
		id := ch.ContactID
		if ch.Forget == accounts.PrivacyDeleted {
			erase = append(erase, id)
			if _, done := part.erased[id]; !done {
				if part.erased == nil {
					part.erased = map[string]int64{}
				}
				part.erased[id] = ch.At.UnixNano()
				markers = append(markers, markerMessage(id, marker{At: ch.At.UnixNano(), Kind: privacy}))
			}
		}
		held := part.holders[id]
		if len(held) == 0 {
			return false
		}
		delete(part.holders, id)
		slices.Sort(held)
		for _, company := range held {
			if agg := part.aggs[company]; agg != nil {
				one := *ch
				one.To = company
				apply(&one, agg)
			}
		}
		return true
	}
	// The batch's deletions go first: those a failed batch left pending
	// (their markers are saved, the companies without them not), then the
	// batch's. No crossing, company-scores message or row the batch makes
	// names a contact it forgets, however a replay splits the batches.
	for _, id := range part.pending {
		if at, ok := part.erased[id]; ok {
			ch := accounts.Forget(id, accounts.PrivacyDeleted, "", time.Unix(0, at).UTC())
			forget(&ch)
		}
	}
	part.pending = part.pending[:0]
	for i := range msgs {
		if !ok[i] || changes[i].Forget == "" {
			continue
		}
		if forget(&changes[i]) {
			a.changeOutcome("forgotten")
		} else {
			a.changeOutcome("stale")
		}
	}
	for i := range msgs {
		ch := &changes[i]
		if !ok[i] || ch.Forget != "" {
			continue
		}
		// A change of a contact forgotten for privacy is dropped, whatever
		// its time (a replay of the contact's events upstream).
		if _, gone := part.erased[ch.ContactID]; gone {
			a.changeOutcome("suppressed")
			continue
		}
		// A change before its contact's deletion in the same batch is
		// dropped with it: a replay of the batch must not bring the
		// contact back.
		if j, found := lastForget[ch.ContactID]; found && i < j {
			a.changeOutcome("stale")
			continue
		}
		agg := part.aggs[ch.To]
		if agg == nil {
			agg = accounts.NewAggregate(ch.To)
			part.aggs[ch.To] = agg
			part.held.Add(1)
		}
		if old := agg.Contacts[ch.ContactID]; old != nil && old.Seq >= ch.Seq {
			a.changeOutcome("stale")
			continue
		}
		a.changeOutcome("applied")
		apply(ch, agg)
	}
	// What the steps write is built here, under the lock: building a
	// company's figures may fill its rollups.
	var scoreMsgs []stream.Record
	if a.cfg.Scores != nil {
		scoreMsgs = scoreMessages(set, dirty, before)
	}
	stateMsgs := companyStateMsgs(dirty, dirtyMembers)
	part.mu.Unlock()
	gctx, stop := untilDone(ctx, c.Done())
	defer stop()
	steps := []struct {
		name string
		run  func() error
	}{
		{"company_markers", func() error {
			// Before any effect: from now on a replay of the batch, however
			// split, knows the contacts it erases (restore, index).
			if len(markers) == 0 || a.cfg.States == nil {
				return nil
			}
			sctx, cancel := context.WithTimeout(gctx, 4*time.Second)
			defer cancel()
			return a.cfg.States.WritePartition(sctx, c.Partition, markers...)
		}},
		{"company_crossings", func() error { return write(gctx, a.cfg.Crossings, crossings) }},
		{"company_score_messages", func() error { return write(gctx, a.cfg.Scores, scoreMsgs) }},
		{"company_scores", func() error {
			if a.cfg.Recorder == nil || len(rows) == 0 {
				return nil
			}
			if err := a.cfg.Recorder.AddCompanyScores(rows...); err != nil {
				return err
			}
			return a.cfg.Recorder.Flush(gctx)
		}},
		{"company_erase", func() error {
			// After the batch's rows are stored: a mutation does not reach
			// rows inserted after it.
			if a.cfg.Erase == nil || len(erase) == 0 {
				return nil
			}
			return a.cfg.Erase(gctx, erase...)
		}},
		{"company_state", func() error {
			if ended(c) {
				return errGenerationEnded
			}
			if len(stateMsgs) == 0 || a.cfg.States == nil {
				return nil
			}
			sctx, cancel := context.WithTimeout(gctx, 4*time.Second)
			defer cancel()
			return a.cfg.States.WritePartition(sctx, c.Partition, stateMsgs...)
		}},
	}
	for _, s := range steps {
		if a.cfg.fault != nil {
			if err := a.cfg.fault(s.name); err != nil {
				return a.failed(part, c, s.name, err)
			}
		}
		if err := s.run(); err != nil {
			return a.failed(part, c, s.name, err)
		}
	}
	part.mu.Lock()
	part.next = msgs[len(msgs)-1].Offset + 1
	part.mu.Unlock()
	c.Commit(msgs[len(msgs)-1].Offset + 1)
	a.gauge()
	return nil
}

// companyStateMsgs is what the state step writes for a batch: the views
// of the contacts it changed (nil: dropped), then the standing of the
// companies it changed (nil: the company is gone), so a company's
// tombstone comes after its last contact's.
func companyStateMsgs(dirty map[string]*accounts.Aggregate, dirtyMembers map[[2]string]*accounts.Member) []stream.Record {
	if len(dirty)+len(dirtyMembers) == 0 {
		return nil
	}
	out := make([]stream.Record, 0, len(dirty)+len(dirtyMembers))
	var buf []byte
	for k, mb := range dirtyMembers {
		m := stream.Record{Key: memberKey(k[0], k[1])}
		if mb != nil {
			start := len(buf)
			buf = accounts.AppendMember(buf, mb)
			m.Value = buf[start:len(buf):len(buf)]
		}
		out = append(out, m)
	}
	for id, agg := range dirty {
		m := stream.Record{Key: []byte(id)}
		if agg != nil {
			m.Value = accounts.AppendStanding(nil, agg)
		}
		out = append(out, m)
	}
	return out
}

// failed drops the partition's in-memory state, which is ahead of what was
// saved: the next owner (perhaps this instance) restores and replays.
func (a *CompanyAggregator) failed(part *companyPart, c *stream.Claim, step string, err error) error {
	a.mu.Lock()
	if a.parts[part.id] == part {
		delete(a.parts, part.id)
	}
	a.mu.Unlock()
	if ended(c) {
		a.cfg.Log.Warn().Int("partition", c.Partition).Err(err).Msg("generation ended during a company batch: the new owner replays it")
		return nil
	}
	return fmt.Errorf("company partition %d: %s: %w", part.id, step, err)
}

func (a *CompanyAggregator) changeOutcome(o string) {
	if a.cfg.Metrics != nil {
		a.cfg.Metrics.Changes.WithLabelValues(o).Inc()
	}
}

// scoreMessages are the company-scores messages of a batch: a tombstone
// for each company whose last contact it forgot, and a message for each
// company whose message differs from the one it had before the batch
// (companies no change may have moved have no before). A replay starts
// from the state saved with the committed offset, so it republishes the
// same content.
func scoreMessages(set *rules.Set, dirty map[string]*accounts.Aggregate, before map[string]companyscores.Message) []stream.Record {
	var out []stream.Record
	for id, agg := range dirty {
		if agg == nil {
			// Its last contact forgotten: no message names it, or
			// them, any more.
			out = append(out, stream.Record{Key: []byte(id)})
			continue
		}
		prev, ok := before[id]
		if !ok {
			continue
		}
		m := companyscores.Build(set, agg)
		if !companyscores.Same(&prev, &m) {
			out = append(out, stream.Message(id, companyscores.Marshal(&m)))
		}
	}
	sort.Slice(out, func(i, j int) bool { return string(out[i].Key) < string(out[j].Key) })
	return out
}

func decodeChange(m *stream.Record) (accounts.Change, error) {
	if len(m.Value) > events.MaxEventBytes {
		return accounts.Change{}, fmt.Errorf("change is %d bytes, over the %d-byte limit", len(m.Value), events.MaxEventBytes)
	}
	ch, err := accounts.DecodeChange(m.Value)
	if err != nil {
		return ch, fmt.Errorf("malformed change: %w", err)
	}
	// A deletion is every company's of the partition, whether it names
	// one (the contact's current company, or an older scorer's deletion
	// for one company) or none.
	if ch.To == "" && ch.Forget == "" || ch.ContactID == "" || ch.Seq == 0 && ch.Forget == "" {
		return ch, fmt.Errorf("change without to, contact_id or seq")
	}
	if ch.Forget != "" && ch.Forget != TypeContactDeleted && ch.Forget != TypePrivacyDeleted {
		return ch, fmt.Errorf("change with forget %q, want %s or %s", ch.Forget, TypeContactDeleted, TypePrivacyDeleted)
	}
	if string(m.Key) != ch.To {
		return ch, fmt.Errorf("change for %q under key %q", ch.To, m.Key)
	}
	return ch, nil
}

// companyCrossing is the crossings topic's message for a company crossing.
func companyCrossing(x accounts.Crossing, version string) *events.Crossing {
	c := &events.Crossing{
		CrossingID: x.ID, Level: events.LevelCompany, CompanyID: x.CompanyID, ContactID: x.ContactID,
		Model: x.Model, Score: rules.Float(x.Score), Threshold: rules.Float(x.Threshold.At), ThresholdName: x.Threshold.Name,
		CrossedAt: x.At, EventID: x.EventID, RuleVersion: version,
	}
	for _, m := range x.Top {
		cm := events.CompanyMember{ContactID: m.ContactID, Score: rules.Float(m.Score), Role: m.Role, OwnerID: m.Owner}
		if len(m.Props) > 0 {
			cm.Contact = make(map[string]any, len(m.Props))
			for k, v := range m.Props {
				cm.Contact[k] = v
			}
		}
		c.Members = append(c.Members, cm)
	}
	return c
}

func companyScoreRow(s accounts.Score, ch *accounts.Change, set *rules.Set) analytics.CompanyScoreRow {
	contact, event := ch.Cause()
	r := analytics.CompanyScoreRow{
		CompanyID: s.CompanyID, Model: s.Model, Score: int64(s.Score), Rollup: int64(s.Rollup), Coverage: s.Coverage,
		ContactID: contact, EventID: event, ChangedAt: ch.At, RuleVersion: set.Version,
	}
	if r.Coverage == nil {
		r.Coverage = []string{}
	}
	r.Members = uint32(s.Counted)
	return r
}

// CompanyScore answers a company's score in a company model from the
// state this instance holds; ok is false when no owned partition holds it.
func (a *CompanyAggregator) CompanyScore(companyID, model string) (accounts.Score, bool) {
	set := a.set.Load()
	m := set.Company(model)
	if m == nil {
		return accounts.Score{}, false
	}
	a.mu.Lock()
	parts := slices.Collect(maps.Values(a.parts))
	a.mu.Unlock()
	for _, p := range parts {
		p.mu.Lock()
		agg := p.aggs[companyID]
		var members []*accounts.Member
		if agg != nil {
			members = agg.Members()
		}
		p.mu.Unlock()
		if agg != nil {
			return accounts.Evaluate(m, companyID, members), true
		}
	}
	return accounts.Score{}, false
}

// CompanyIDs lists the companies this instance holds, sorted (tests).
func (a *CompanyAggregator) CompanyIDs() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, p := range a.parts {
		p.mu.Lock()
		for id := range p.aggs {
			out = append(out, id)
		}
		p.mu.Unlock()
	}
	sort.Strings(out)
	return out
}

// restoreMarker takes an erased contact's marker (the contact processor's
// form, forget.go) into the partition; a plain deletion's is not kept.
func (part *companyPart) restoreMarker(m stream.Record) bool {
	if m.Value == nil {
		delete(part.erased, string(m.Key[len(markerPrefix):]))
		return true
	}
	id, mk, _, err := markerOf(m)
	if err != nil {
		return false
	}
	if mk.Kind == privacy {
		if part.erased == nil {
			part.erased = map[string]int64{}
		}
		part.erased[id] = mk.At
	}
	return true
}
