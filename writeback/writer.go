package writeback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/companyscores"
	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/leadscores"
	"github.com/scorebridge/scorebridge/stream"
)

// CRM is what the write-back asks of HubSpot, for an object type
// (hubspot.ObjectContacts, hubspot.ObjectCompanies); *hubspot.Client.
type CRM interface {
	BatchUpdate(ctx context.Context, objectType string, inputs []hubspot.BatchInput) (*hubspot.BatchResult, error)
	GetProperty(ctx context.Context, objectType, name string) (*hubspot.Property, error)
	CreateProperty(ctx context.Context, objectType string, p hubspot.Property) (*hubspot.Property, error)
	GetPropertyGroup(ctx context.Context, objectType, name string) (*hubspot.PropertyGroup, error)
	CreatePropertyGroup(ctx context.Context, objectType string, g hubspot.PropertyGroup) (*hubspot.PropertyGroup, error)
}

// Recorder stores a row per record write; analytics.Store in production.
type Recorder interface {
	InsertWriteback(ctx context.Context, rows []analytics.WritebackRow) error
}

// Options wire a Writer.
type Options struct {
	Config   *Config // checked
	CRM      CRM
	Recorder Recorder // nil: no writeback table
	Metrics  *Metrics // nil: none
	Log      zerolog.Logger
	// MaxPending bounds the contacts waiting for a write (default
	// 100,000): Handle waits for a flush beyond it.
	MaxPending int
	// Consumer, when set, adjusts the consumer group's settings (tests).
	Consumer func(*stream.GroupConfig)
	now      func() time.Time
}

// Writer is the write-back of one object type: a stream.Handler of its
// scores topic (lead-scores for contacts, company-scores for companies)
// and the flusher that writes what it gathered.
type Writer struct {
	o Options
	k kind

	mu      sync.Mutex
	pending map[string]*entry  // by record id
	last    map[string]written // what was last written, by record id
	flushed chan struct{}      // closed and replaced after every flush

	flushing chan struct{}   // holds a token during a flush: one at a time
	ensured  map[string]bool // models whose properties exist
	ensureMu sync.Mutex
}

// entry is a record's latest wanted values and the batches waiting on it.
type entry struct {
	want    wanted
	since   time.Time // when the record started waiting
	waiters []*tracker
}

// wanted is what a message asks HubSpot to hold for a record.
type wanted struct {
	id          string
	ruleVersion string
	scoresAt    time.Time // the message's updated_at
	now         written
}

// kind is what differs between the write-back of contacts and of
// companies.
type kind struct {
	object       string // hubspot.ObjectContacts, hubspot.ObjectCompanies
	idField      string // contact_id, company_id: in logs
	topic, group string
	models       []string // configured; empty: every model of the messages
	minDelta     float64
	decode       func(key, value []byte) (wanted, bool, error)
	definitions  func(model string) []hubspot.Property
}

func contactKind(c *Config) kind {
	return kind{object: hubspot.ObjectContacts, idField: "contact_id", topic: c.Topic, group: c.Group, models: c.Models, minDelta: c.minDelta,
		decode: func(key, value []byte) (wanted, bool, error) {
			m, ok, err := leadscores.Decode(key, value)
			if !ok || err != nil {
				return wanted{}, ok, err
			}
			return wanted{id: m.ContactID, ruleVersion: m.RuleVersion, scoresAt: m.UpdatedAt, now: writtenOf(c, &m)}, true, nil
		},
		definitions: c.definitions}
}

func companyKind(c *CompanyConfig) kind {
	return kind{object: hubspot.ObjectCompanies, idField: "company_id", topic: c.Topic, group: c.Group, models: c.Models, minDelta: c.minDelta,
		decode: func(key, value []byte) (wanted, bool, error) {
			m, ok, err := companyscores.Decode(key, value)
			if !ok || err != nil {
				return wanted{}, ok, err
			}
			return wanted{id: m.CompanyID, ruleVersion: m.RuleVersion, scoresAt: m.UpdatedAt, now: companyWrittenOf(c, &m)}, true, nil
		},
		definitions: c.definitions}
}

// tracker is a consumed batch: its offset commits once every contact
// write it implies is acknowledged or recorded failed. Guarded by
// Writer.mu.
type tracker struct {
	n    int
	done func()
}

func (t *tracker) release() {
	t.n--
	if t.n == 0 {
		t.done()
	}
}

// New returns the Writer of contact scores (the lead-scores topic).
func New(o Options) *Writer { return newWriter(o, contactKind(o.Config)) }

// NewCompanies returns the Writer of company scores (the company-scores
// topic); o.Config.Companies must be set.
func NewCompanies(o Options) *Writer { return newWriter(o, companyKind(o.Config.Companies)) }

func newWriter(o Options, k kind) *Writer {
	if o.MaxPending <= 0 {
		o.MaxPending = 100_000
	}
	if o.now == nil {
		o.now = time.Now
	}
	o.Log = o.Log.With().Str("object", k.object).Logger()
	return &Writer{o: o, k: k, pending: map[string]*entry{}, last: map[string]written{}, flushed: make(chan struct{}), flushing: make(chan struct{}, 1), ensured: map[string]bool{}}
}

// Object is the HubSpot object type the Writer writes.
func (w *Writer) Object() string { return w.k.object }

// Assigned starts from the committed offset: what was written is not
// remembered across restarts, so each record's first message is written
// again (harmless: the same values).
func (w *Writer) Assigned(ctx context.Context, c *stream.Claim) error { return nil }

// Handle gathers a batch of scores messages. It returns at once; the
// offset is committed by the flushes that write (or fail) its records.
func (w *Writer) Handle(ctx context.Context, c *stream.Claim, msgs []stream.Record) error {
	if err := w.waitRoom(ctx); err != nil {
		return err
	}
	tr := &tracker{n: 1, done: c.Track(msgs[len(msgs)-1].Offset + 1)}
	w.mu.Lock()
	for _, m := range msgs {
		want, ok, err := w.k.decode(m.Key, m.Value)
		if err != nil {
			w.o.Metrics.count(w.k.object, "malformed", 1)
			w.o.Log.Warn().Str("topic", w.k.topic).Int("partition", m.Partition).Int64("offset", m.Offset).Err(err).Msg("write-back: skipped a malformed message")
			continue
		}
		if !ok {
			continue // a tombstone: the record was forgotten; nothing to write
		}
		w.want(want, tr)
	}
	w.o.Metrics.pending(w.k.object, len(w.pending))
	tr.release()
	w.mu.Unlock()
	return nil
}

// want makes these the record's wanted values (latest wins), when it is
// worth a write.
func (w *Writer) want(want wanted, tr *tracker) {
	id := want.id
	e := w.pending[id]
	if e == nil {
		if last, ok := w.last[id]; ok && !last.worthWriting(w.k.minDelta, want.now) {
			w.o.Metrics.count(w.k.object, "below_min_delta", 1)
			return
		}
		e = &entry{since: w.o.now()}
		w.pending[id] = e
	} else {
		w.o.Metrics.count(w.k.object, "coalesced", 1)
	}
	e.want = want
	if len(e.waiters) == 0 || e.waiters[len(e.waiters)-1] != tr {
		e.waiters = append(e.waiters, tr)
		tr.n++
	}
}

func (w *Writer) waitRoom(ctx context.Context) error {
	for {
		w.mu.Lock()
		full, ch := len(w.pending) >= w.o.MaxPending, w.flushed
		w.mu.Unlock()
		if !full {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Revoked writes everything pending, so the partition's offsets commit
// before it moves. What cannot be written in time is not lost: its offsets
// stay uncommitted and the partition's next owner reads it again.
func (w *Writer) Revoked(ctx context.Context, c *stream.Claim) error {
	err := w.Flush(ctx)
	if err == nil {
		err = c.WaitTracked(ctx)
	}
	if err != nil {
		w.o.Log.Warn().Err(err).Int("partition", c.Partition).
			Msg("write-back: revoked with writes outstanding; their messages are read again by the next owner")
	}
	return nil
}

// Run consumes the scores topic in its consumer group and flushes every
// flush interval, until ctx ends. It first makes sure the property group
// and the configured models' properties exist.
func (w *Writer) Run(ctx context.Context, brokers []string) error {
	cfg := w.o.Config
	if err := w.EnsureUntil(ctx, w.k.models); err != nil {
		return err
	}
	// The scorer creates the topic; a bridge started first waits for it
	// in a topic of the scorer's default shape.
	if err := stream.EnsureTopics(ctx, brokers, stream.Topic{Name: w.k.topic, Partitions: 6, Compacted: true}); err != nil {
		return fmt.Errorf("write-back: topic %s: %w", w.k.topic, err)
	}
	gcfg := stream.GroupConfig{Brokers: brokers, Group: w.k.group, Topic: w.k.topic, MaxBatch: 1000, Log: &w.o.Log}
	if w.o.Consumer != nil {
		w.o.Consumer(&gcfg)
	}
	g, err := stream.NewGroupConsumer(gcfg, w)
	if err != nil {
		return err
	}
	w.o.Metrics.consumer(w.k.object, g)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		t := time.NewTicker(cfg.Flush())
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				errc <- nil
				return
			case <-t.C:
				if err := w.Flush(ctx); err != nil && ctx.Err() == nil {
					errc <- err
					cancel()
					return
				}
			}
		}
	}()
	err = g.Run(ctx)
	cancel()
	if ferr := <-errc; ferr != nil {
		return ferr
	}
	return err
}

// Flush writes every pending record now, in batch calls of up to
// max_batch records. A call that fails for good (a 4xx other than 429)
// records its records as failed; one that may succeed later (retries
// exhausted on 429, 5xx or the network) puts them back for the next
// flush. It returns an error only for what must stop the write-back: a
// property that cannot be made to exist.
func (w *Writer) Flush(ctx context.Context) error {
	// Waiting for a running flush respects ctx: a revoke must not outlast
	// the rebalance behind a flush slowed down by 429s.
	select {
	case w.flushing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-w.flushing }()
	w.mu.Lock()
	batch := w.pending
	w.pending = map[string]*entry{}
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.o.Metrics.pending(w.k.object, len(w.pending))
		close(w.flushed)
		w.flushed = make(chan struct{})
		w.mu.Unlock()
	}()
	if len(batch) == 0 {
		return nil
	}
	ids := make([]string, 0, len(batch))
	models := map[string]bool{}
	for id, e := range batch {
		ids = append(ids, id)
		for m := range e.want.now.scores {
			models[m] = true
		}
	}
	sort.Strings(ids) // deterministic calls
	var ms []string
	for m := range models {
		ms = append(ms, m)
	}
	if err := w.EnsureProperties(ctx, ms); err != nil {
		w.requeue(batch, ids)
		if Permanent(err) {
			return err
		}
		w.o.Log.Warn().Err(err).Msg("write-back: could not check the properties of new models; retrying at the next flush")
		return nil
	}
	for lo := 0; lo < len(ids); lo += w.o.Config.MaxBatch {
		chunk := ids[lo:min(lo+w.o.Config.MaxBatch, len(ids))]
		w.write(ctx, batch, chunk)
	}
	return nil
}

func (w *Writer) write(ctx context.Context, batch map[string]*entry, ids []string) {
	inputs := make([]hubspot.BatchInput, len(ids))
	for i, id := range ids {
		inputs[i] = hubspot.BatchInput{ID: id, Properties: batch[id].want.now.props}
	}
	start := w.o.now()
	res, err := w.o.CRM.BatchUpdate(hubspot.WithLowPriority(ctx), w.k.object, inputs)
	var ae *hubspot.APIError
	switch {
	case err != nil && ctx.Err() == nil && errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 && ae.Status != http.StatusTooManyRequests:
		w.o.Metrics.call(w.k.object, "failed")
		w.o.Log.Error().Err(err).Int("records", len(ids)).Msg("write-back: HubSpot refused a batch update; its records are recorded as failed")
		w.done(ctx, batch, ids, nil, err.Error(), start)
	case err != nil:
		w.o.Metrics.call(w.k.object, "retry_later")
		w.o.Log.Warn().Err(err).Int("records", len(ids)).Msg("write-back: batch update failed; retrying at the next flush")
		w.requeue(batch, ids)
	default:
		w.o.Metrics.call(w.k.object, "ok")
		w.done(ctx, batch, ids, res.Failed(), "", start)
	}
}

// done records the records' writes, remembers what was written and
// releases the batches waiting on them. failAll, when set, fails every one.
func (w *Writer) done(ctx context.Context, batch map[string]*entry, ids []string, failed map[string]hubspot.BatchError, failAll string, start time.Time) {
	now := w.o.now()
	rows := make([]analytics.WritebackRow, 0, len(ids))
	ok := 0
	for _, id := range ids {
		e := batch[id]
		props, _ := json.Marshal(e.want.now.props)
		row := analytics.WritebackRow{Object: w.k.object, ContactID: id, Properties: string(props), Result: "ok",
			RuleVersion: e.want.ruleVersion, ScoresAt: e.want.scoresAt, WrittenAt: now}
		if be, bad := failed[id]; bad || failAll != "" {
			row.Result, row.Error = "failed", failAll
			if bad {
				row.Error = be.Category + ": " + be.Message
			}
			w.o.Log.Warn().Str(w.k.idField, id).Str("error", row.Error).Msg("write-back: HubSpot did not take the record's properties")
		} else {
			ok++
		}
		rows = append(rows, row)
	}
	if w.o.Recorder != nil {
		// The rows are the record of a failure: the offset waits for them,
		// retried with backoff (up to 30 s apart) until ClickHouse takes
		// them or the writer stops.
		b := backoff.NewExponentialBackOff(backoff.WithInitialInterval(time.Second),
			backoff.WithMaxInterval(30*time.Second), backoff.WithMaxElapsedTime(0))
		for {
			err := w.o.Recorder.InsertWriteback(ctx, rows)
			if err == nil || ctx.Err() != nil {
				break
			}
			wait := b.NextBackOff()
			w.o.Log.Warn().Err(err).Int("rows", len(rows)).Dur("retry_in", wait).Msg("write-back: could not record writes in ClickHouse; retrying")
			select {
			case <-time.After(wait):
			case <-ctx.Done():
			}
		}
	}
	w.o.Metrics.writes(w.k.object, ok, len(ids)-ok)
	w.mu.Lock()
	for _, id := range ids {
		e := batch[id]
		if _, bad := failed[id]; !bad && failAll == "" {
			w.last[id] = e.want.now
		}
		w.o.Metrics.lag(w.k.object, now.Sub(e.since))
	}
	for _, id := range ids {
		for _, tr := range batch[id].waiters {
			tr.release()
		}
	}
	w.mu.Unlock()
}

// requeue puts records back for the next flush; a newer wanted value that
// arrived meanwhile wins, and keeps every batch waiting on either.
func (w *Writer) requeue(batch map[string]*entry, ids []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		old := batch[id]
		if cur := w.pending[id]; cur != nil {
			cur.waiters = append(old.waiters, cur.waiters...)
			cur.since = old.since
			continue
		}
		w.pending[id] = old
	}
}

// ErrPropertyType: a property exists in HubSpot with another type than
// the write-back writes.
var ErrPropertyType = errors.New("property of the wrong type")

// Permanent reports whether an error of EnsureProperties will not go away
// by trying again: a property of the wrong type, or a refusal (a 4xx other
// than 429: a bad token, a missing scope, the portal's property limit).
func Permanent(err error) bool {
	if errors.Is(err, ErrPropertyType) {
		return true
	}
	var ae *hubspot.APIError
	return errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 && ae.Status != http.StatusTooManyRequests
}

// EnsureUntil is EnsureProperties, tried again with backoff while it fails
// for a passing reason (429, 5xx, the network), until ctx ends.
func (w *Writer) EnsureUntil(ctx context.Context, models []string) error {
	b := backoff.NewExponentialBackOff(backoff.WithInitialInterval(time.Second),
		backoff.WithMaxInterval(30*time.Second), backoff.WithMaxElapsedTime(0))
	for {
		err := w.EnsureProperties(ctx, models)
		if err == nil || Permanent(err) || ctx.Err() != nil {
			return err
		}
		wait := b.NextBackOff()
		w.o.Log.Warn().Err(err).Dur("retry_in", wait).Msg("write-back: could not check the properties; retrying")
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return err
		}
	}
}

// EnsureProperties makes sure the property group and the properties of
// the models exist with the right types; a property that exists with
// another type is an error naming every such property.
func (w *Writer) EnsureProperties(ctx context.Context, models []string) error {
	w.ensureMu.Lock()
	defer w.ensureMu.Unlock()
	ctx = hubspot.WithLowPriority(ctx) // write-back work: enrollments first
	var todo []string
	for _, m := range models {
		if !w.ensured[m] {
			todo = append(todo, m)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	ot := w.k.object
	if !w.ensured[""] {
		if _, err := w.o.CRM.GetPropertyGroup(ctx, ot, PropertyGroup); errors.Is(err, hubspot.ErrNotFound) {
			if _, err := w.o.CRM.CreatePropertyGroup(ctx, ot, hubspot.PropertyGroup{Name: PropertyGroup, Label: "scorebridge"}); err != nil {
				return fmt.Errorf("write-back: create the %s property group %s: %w", ot, PropertyGroup, err)
			}
		} else if err != nil {
			return fmt.Errorf("write-back: read the %s property group %s: %w", ot, PropertyGroup, err)
		}
		w.ensured[""] = true
	}
	var mismatches []string
	for _, m := range todo {
		ok := true
		for _, want := range w.k.definitions(m) {
			got, err := w.o.CRM.GetProperty(ctx, ot, want.Name)
			switch {
			case errors.Is(err, hubspot.ErrNotFound):
				if _, err := w.o.CRM.CreateProperty(ctx, ot, want); err != nil {
					return fmt.Errorf("write-back: create %s property %s: %w", ot, want.Name, err)
				}
				w.o.Log.Info().Str("property", want.Name).Str("type", want.Type).Str("model", m).Msg("write-back: created a property")
			case err != nil:
				return fmt.Errorf("write-back: read %s property %s: %w", ot, want.Name, err)
			case got.Type != want.Type:
				ok = false
				mismatches = append(mismatches, fmt.Sprintf("%s is a %s property in HubSpot, the write-back writes a %s", want.Name, got.Type, want.Type))
			}
		}
		w.ensured[m] = ok
	}
	if len(mismatches) > 0 {
		section := "writeback.properties"
		if ot == hubspot.ObjectCompanies {
			section = "writeback.companies.properties"
		}
		return fmt.Errorf("write-back: %w: %d %s properties (rename them in %s, or change them in HubSpot):\n  %s",
			ErrPropertyType, len(mismatches), strings.TrimSuffix(ot, "s"), section, strings.Join(mismatches, "\n  "))
	}
	return nil
}

// definitions are the properties of a model.
func (c *Config) definitions(model string) []hubspot.Property {
	def := func(tmpl, label, typ, field, desc string) hubspot.Property {
		return hubspot.Property{Name: property(tmpl, model), Label: "scorebridge " + model + " " + label, Type: typ,
			FieldType: field, GroupName: PropertyGroup, Description: desc}
	}
	return []hubspot.Property{
		def(c.Properties.Score, "score", "number", "number", "The contact's "+model+" score, written by scorebridge."),
		def(c.Properties.Threshold, "threshold", "string", "text", "The highest "+model+" threshold the contact is past; empty when none."),
		def(c.Properties.CrossedAt, "crossed at", "datetime", "date", "When the contact crossed that threshold."),
		def(c.Properties.Top, "top groups", "string", "text", "The groups adding the most points, e.g. \"call_started 30; email_opened 8\"."),
	}
}

// definitions are the company properties of a company model.
func (c *CompanyConfig) definitions(model string) []hubspot.Property {
	def := func(tmpl, label, typ, field, desc string) hubspot.Property {
		return hubspot.Property{Name: property(tmpl, model), Label: "scorebridge " + model + " " + label, Type: typ,
			FieldType: field, GroupName: PropertyGroup, Description: desc}
	}
	p := &c.Properties
	return []hubspot.Property{
		def(p.Score, "score", "number", "number", "The company's "+model+" score, written by scorebridge."),
		def(p.Threshold, "threshold", "string", "text", "The highest "+model+" threshold the company is past; empty when none."),
		def(p.CrossedAt, "crossed at", "datetime", "date", "When the company crossed that threshold."),
		def(p.Top, "top contacts", "string", "text", "The contacts counting most, with their score and role, e.g. \"7100001 30 (champion); 7100002 12\"."),
		def(p.Coverage, "coverage", "string", "text", "The buying-group roles present among counted contacts, e.g. \"champion; economic_buyer\"."),
		def(p.Contacts, "contacts counted", "number", "number", "How many of the company's contacts count (at or above min_contact_score)."),
	}
}
