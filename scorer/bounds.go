package scorer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/stream"
)

// Bounds on what one message can make the scorer write: a message the
// broker or the producer refuses would fail its batch on every restart.

// maxCrossingBytes bounds a crossing message, key included.
const maxCrossingBytes = stream.MaxMessageBytes - 10_000

// boundCrossing encodes x within maxCrossingBytes: when the whole contact
// snapshot does not fit, it keeps the snapshot's properties, in key order,
// that fit in what remains and sets ContactTruncated. It reports whether
// it cut anything.
func boundCrossing(x *events.Crossing) ([]byte, bool) {
	data := marshalCrossing(x)
	if len(data)+len(x.ContactID) <= maxCrossingBytes {
		return data, false
	}
	full := x.Contact
	defer func() { x.Contact = full }()
	x.Contact, x.ContactTruncated = nil, true
	budget := maxCrossingBytes - len(marshalCrossing(x)) - len(x.ContactID) - 64
	keys := make([]string, 0, len(full))
	for k := range full {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	kept := map[string]any{}
	for _, k := range keys {
		kv, err := json.Marshal(map[string]any{k: full[k]})
		if err != nil || len(kv) > budget {
			continue
		}
		budget -= len(kv)
		kept[k] = full[k]
	}
	if len(kept) > 0 {
		x.Contact = kept
	}
	return marshalCrossing(x), true
}

// stripCrossing is a crossing without its contact snapshot, for a
// crossings topic that refused the bounded one.
func stripCrossing(m stream.Record) stream.Record {
	var x events.Crossing
	if err := json.Unmarshal(m.Value, &x); err != nil {
		return m
	}
	x.Contact, x.ContactTruncated = nil, true
	return stream.Record{Key: m.Key, Value: marshalCrossing(&x), Time: m.Time, Headers: m.Headers}
}

// tooLarge says the producer or the broker refused a message for its size.
func tooLarge(err error) bool {
	return stream.IsMessageTooLarge(err)
}

// writeBounded writes msgs; when some are refused for their size (a
// topic whose max.message.bytes is below the default), it writes those
// not yet written one by one and replaces each refused one by strip(it),
// counted as kind. Each message is written once.
func (p *Processor) writeBounded(ctx context.Context, w Producer, msgs []stream.Record, kind string, strip func(stream.Record) stream.Record) error {
	err := write(ctx, w, msgs)
	if err == nil || !tooLarge(err) {
		return err
	}
	// The broker refuses per partition: the others' messages are written
	// and must not be written again.
	if refused, ok := stream.Refused(err, len(msgs)); ok {
		left := make([]stream.Record, 0, len(refused))
		for _, i := range refused {
			left = append(left, msgs[i])
		}
		msgs = left
	}
	// One at a time, each in a request of its own where the producer can
	// (a batch-mate refused for its size would fail this one too).
	one := w.Write
	if a, ok := w.(interface {
		WriteAlone(context.Context, stream.Record) error
	}); ok {
		one = func(ctx context.Context, msgs ...stream.Record) error { return a.WriteAlone(ctx, msgs[0]) }
	}
	for _, m := range msgs {
		err := one(ctx, m)
		if err == nil {
			continue
		}
		if !tooLarge(err) {
			return err
		}
		s := strip(m)
		if err := one(ctx, s); err != nil {
			return fmt.Errorf("%s refused even without its payload: %w", kind, err)
		}
		p.bounded(kind)
		p.cfg.Log.Error().Str("kind", kind).Bytes("key", s.Key).Int("bytes", len(m.Value)).Err(err).
			Msg("the topic refused a message for its size: wrote it without its payload")
	}
	return nil
}

// bounded counts a message written cut down to fit.
func (p *Processor) bounded(kind string) {
	if p.cfg.Metrics != nil {
		p.cfg.Metrics.Bounded.WithLabelValues(kind).Inc()
	}
}

// ClickHouse's DateTime holds seconds from 1970 in 32 bits unsigned.
var (
	dateTimeMin = time.Unix(0, 0).UTC()
	dateTimeMax = time.Unix(1<<32-1, 0).UTC()
)

// TimeWindow is the range of occurred_at the scorer accepts; the rest is
// dead-lettered. A time far in the future would hold a contact's score at
// that time and block every later point until then; outside ClickHouse's
// DateTime range the history would store another time.
type TimeWindow struct {
	NotBefore time.Time     // default 2000-01-01T00:00:00Z
	MaxAhead  time.Duration // past the scorer's clock; default 24h
	Now       func() time.Time
}

// DefaultNotBefore is the earliest occurred_at accepted by default.
var DefaultNotBefore = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func (w TimeWindow) withDefaults() TimeWindow {
	if w.NotBefore.IsZero() {
		w.NotBefore = DefaultNotBefore
	}
	if w.MaxAhead == 0 {
		w.MaxAhead = 24 * time.Hour
	}
	if w.Now == nil {
		w.Now = time.Now
	}
	return w
}

// Validate reports a window that ClickHouse's DateTime could not store.
func (w TimeWindow) Validate() error {
	w = w.withDefaults()
	var problems []error
	if w.NotBefore.Before(dateTimeMin) || w.NotBefore.After(dateTimeMax) {
		problems = append(problems, fmt.Errorf("the earliest accepted time %s is outside ClickHouse's DateTime range (%s to %s)",
			w.NotBefore.Format(time.RFC3339), dateTimeMin.Format(time.RFC3339), dateTimeMax.Format(time.RFC3339)))
	}
	if w.MaxAhead < 0 {
		problems = append(problems, fmt.Errorf("the accepted time ahead of the clock %s is negative", w.MaxAhead))
	}
	return errors.Join(problems...)
}

// check says why t is outside the window, or nil.
func (w TimeWindow) check(t time.Time) error {
	if t.Before(w.NotBefore) {
		return fmt.Errorf("occurred_at %s is before %s, the earliest accepted time", t.Format(time.RFC3339Nano), w.NotBefore.Format(time.RFC3339))
	}
	now := w.Now()
	if t.After(now.Add(w.MaxAhead)) {
		return fmt.Errorf("occurred_at %s is more than %s after the scorer's clock (%s)", t.Format(time.RFC3339Nano), w.MaxAhead, now.UTC().Format(time.RFC3339))
	}
	if t.After(dateTimeMax) {
		return fmt.Errorf("occurred_at %s is after %s, the last time ClickHouse's DateTime holds", t.Format(time.RFC3339Nano), dateTimeMax.Format(time.RFC3339))
	}
	return nil
}

// CheckAsOf says why an as_of time cannot be answered, or nil: before
// the earliest accepted event time, or past what DateTime holds (and far
// before int64 nanoseconds overflow, in 2262).
func (w TimeWindow) CheckAsOf(t time.Time) error {
	w = w.withDefaults()
	if t.Before(w.NotBefore) || t.After(dateTimeMax) {
		return fmt.Errorf("as_of %s is outside %s to %s", t.Format(time.RFC3339Nano), w.NotBefore.Format(time.RFC3339), dateTimeMax.Format(time.RFC3339))
	}
	return nil
}
