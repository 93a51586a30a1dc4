package live

import (
	"context"
	"fmt"
	json "github.com/goccy/go-json"
	"io"

	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
)

// rebuildCompanies replaces the member trackers and the companies' states
// with those the history gives under e's company models (accounts.Sim
// over every event, as the backtest's company lines): the member
// changelog gets every contact's tracker, the company changelog every
// company's aggregate, and a tombstone goes to every key of either that
// the history no longer gives. It refuses while the company group has
// members. It returns how many trackers and companies it wrote.
func rebuildCompanies(ctx context.Context, o RebuildOptions, e *scoring.Engine, open func() (io.ReadCloser, error)) (trackers, companies int, err error) {
	if o.CompaniesTopic == "" {
		o.CompaniesTopic = o.EventsTopic + "-companies"
	}
	if err := groupIdle(ctx, o.Brokers, o.Group+"-companies"); err != nil {
		return 0, 0, err
	}
	parts, err := stream.Partitions(ctx, o.Brokers, o.EventsTopic)
	if err != nil {
		return 0, 0, err
	}
	opts := Options{Brokers: o.Brokers, EventsTopic: o.EventsTopic, ChangelogTopic: o.Changelog, CompaniesTopic: o.CompaniesTopic}
	c, err := newCompanyTopics(ctx, &opts, parts)
	if err != nil {
		return 0, 0, err
	}
	in, err := open()
	if err != nil {
		return 0, 0, err
	}
	defer in.Close()
	sim := accounts.NewSim(e)
	if err := events.NewReader(in).Each(func(ev events.Event) error {
		sim.Add(&ev)
		return nil
	}, nil); err != nil {
		return 0, 0, fmt.Errorf("read the history: %w", err)
	}
	var msgs []stream.Record
	sim.Trackers(func(id string, t *accounts.Tracker) error {
		data, _ := json.Marshal(t) // plain types: cannot fail
		msgs = append(msgs, stream.Message(id, data))
		return nil
	})
	if err := replaceTopic(ctx, o.Brokers, c.members, msgs); err != nil {
		return 0, 0, err
	}
	trackers, msgs = len(msgs), nil
	for id, agg := range sim.Aggs {
		data, _ := json.Marshal(agg)
		msgs = append(msgs, stream.Message(id, data))
	}
	if err := replaceTopic(ctx, o.Brokers, c.changelog, msgs); err != nil {
		return 0, 0, err
	}
	return trackers, len(msgs), nil
}

// replaceTopic makes msgs the latest record of their keys on a compacted
// topic, and a tombstone the latest of every other key it holds. Records
// go to the partition of their key's hash, as the scorer writes them.
func replaceTopic(ctx context.Context, brokers []string, topic string, msgs []stream.Record) error {
	parts, err := stream.Partitions(ctx, brokers, topic)
	if err != nil {
		return err
	}
	keep := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		keep[string(m.Key)] = true
	}
	var gone []stream.Record
	for p := range parts {
		held := map[string]bool{}
		if _, err := stream.RestorePartition(ctx, brokers, topic, p, func(m stream.Record) error {
			held[string(m.Key)] = m.Value != nil
			return nil
		}); err != nil {
			return fmt.Errorf("read %s/%d: %w", topic, p, err)
		}
		for k, live := range held {
			if live && !keep[k] {
				gone = append(gone, stream.Record{Key: []byte(k)})
			}
		}
	}
	w, err := stream.NewProducer(stream.ProducerConfig{Brokers: brokers, Topic: topic})
	if err != nil {
		return err
	}
	defer w.Close()
	all := append(gone, msgs...)
	for i := 0; i < len(all); i += 1000 {
		if err := w.Write(ctx, all[i:min(i+1000, len(all))]...); err != nil {
			return fmt.Errorf("write %s: %w", topic, err)
		}
	}
	return nil
}
