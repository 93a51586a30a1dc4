package scorer

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/stream"
)

// ForgetOptions say where `scorer forget` finds the scorer.
type ForgetOptions struct {
	Brokers     []string
	EventsTopic string
	Changelog   string           // default EventsTopic + "-scorer-state"
	Store       *analytics.Store // nil: the scorer's own erasure only
	// Wait bounds the wait for the scorer to apply the deletion (its
	// marker on the changelog); 0: do not wait.
	Wait time.Duration
	Now  func() time.Time
}

// ForgetResult is what Forget did for one contact.
type ForgetResult struct {
	ContactID   string
	EventID     string
	Applied     bool              // the scorer's marker is on the changelog
	RowsLeft    map[string]uint64 // ClickHouse rows of the contact after the erasure (with a store)
	ForgottenAt time.Time
}

// Forget is a privacy deletion from the command line. It produces a
// privacy_deleted event per contact to the events topic, so the running
// scorer forgets the contact in order with its other events, exactly as
// for HubSpot's webhook (forget.go); with a store it also erases the
// contacts' ClickHouse rows at once (a scorer without ClickHouse, rows
// the bridge wrote) and waits for the mutations; with Wait it waits until
// the scorer's marker for each contact is on the changelog, then erases
// again (rows the scorer stored from events it read before the deletion).
func Forget(ctx context.Context, o ForgetOptions, ids []string) ([]ForgetResult, error) {
	if o.Changelog == "" {
		o.Changelog = o.EventsTopic + "-scorer-state"
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	parts, err := stream.Partitions(ctx, o.Brokers, o.EventsTopic)
	if err != nil {
		return nil, fmt.Errorf("events topic %s: %w", o.EventsTopic, err)
	}
	p, err := stream.NewProducer(stream.ProducerConfig{Brokers: o.Brokers, Topic: o.EventsTopic})
	if err != nil {
		return nil, err
	}
	defer p.Close()
	at := now().UTC()
	out := make([]ForgetResult, len(ids))
	var msgs []stream.Record
	for i, id := range ids {
		ev := ForgetEvent(id, at)
		data, _ := json.Marshal(ev)
		msgs = append(msgs, stream.Message(id, data))
		out[i] = ForgetResult{ContactID: id, EventID: ev.ID}
	}
	if err := p.Write(ctx, msgs...); err != nil {
		return nil, fmt.Errorf("produce the privacy deletions to %s: %w", o.EventsTopic, err)
	}
	erase := func() error {
		if o.Store == nil {
			return nil
		}
		if err := o.Store.EraseContacts(ctx, ids...); err != nil {
			return err
		}
		return o.Store.WaitMutations(ctx)
	}
	if err := erase(); err != nil {
		return out, err
	}
	if o.Wait > 0 {
		wctx, cancel := context.WithTimeout(ctx, o.Wait)
		defer cancel()
		for i := range out {
			t, err := waitMarker(wctx, o.Brokers, o.Changelog, HomePartition([]byte(out[i].ContactID), parts), out[i].ContactID, at)
			if err != nil {
				return out, fmt.Errorf("contact %q: the scorer did not apply the deletion within %s (is `scorer run` running on %s?): %w",
					out[i].ContactID, o.Wait, o.EventsTopic, err)
			}
			out[i].Applied, out[i].ForgottenAt = true, t
		}
		if err := erase(); err != nil {
			return out, err
		}
	}
	if o.Store != nil {
		for i := range out {
			left, err := o.Store.ContactRows(ctx, out[i].ContactID)
			if err != nil {
				return out, err
			}
			out[i].RowsLeft = left
		}
	}
	return out, nil
}

// waitMarker reads the changelog partition until it holds the contact's
// marker of a deletion at or after at.
func waitMarker(ctx context.Context, brokers []string, changelog string, partition int, id string, at time.Time) (time.Time, error) {
	key := string(MarkerKey(id))
	for {
		var found time.Time
		_, err := stream.RestorePartition(ctx, brokers, changelog, partition, func(m stream.Record) error {
			if string(m.Key) != key {
				return nil
			}
			if _, mk, _, err := markerOf(m); err == nil && mk.At >= at.UnixNano() {
				found = time.Unix(0, mk.At).UTC()
			}
			return nil
		})
		if err != nil {
			return time.Time{}, err
		}
		if !found.IsZero() {
			return found, nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
