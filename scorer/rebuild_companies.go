package scorer

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/companyscores"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
)

// rebuildCompanies replaces the member trackers and the companies' states
// with those the history gives under e's company models (accounts.Sim
// over every event, as the backtest's company lines): the member
// changelog gets every contact's tracker, the company changelog every
// company's aggregate, and a tombstone goes to every key of either that
// the history no longer gives (but the markers of contacts forgotten for
// privacy); with a company-scores topic, every
// company's message under the new rules. It refuses while the company group has
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
		msgs = append(msgs, stream.Message(id, accounts.AppendTracker(nil, t)))
		return nil
	})
	if err := replaceTopic(ctx, o.Brokers, c.members, msgs); err != nil {
		return 0, 0, err
	}
	trackers, msgs = len(msgs), nil
	// As the aggregator writes them (companies.go): each company's views
	// of its contacts, then its standing.
	for id, agg := range sim.Aggs {
		for cid, mb := range agg.Contacts {
			msgs = append(msgs, stream.Record{Key: memberKey(id, cid), Value: accounts.AppendMember(nil, mb)})
		}
		msgs = append(msgs, stream.Message(id, accounts.AppendStanding(nil, agg)))
	}
	if err := replaceTopic(ctx, o.Brokers, c.changelog, msgs); err != nil {
		return 0, 0, err
	}
	if o.CompanyScoresTopic != "" {
		// Every company's message under the new rules, as the aggregator
		// publishes them (the write-back reads them).
		if err := stream.EnsureTopics(ctx, o.Brokers, stream.Topic{Name: o.CompanyScoresTopic, Partitions: parts, Compacted: true}); err != nil {
			return 0, 0, err
		}
		msgs = msgs[:0]
		for id, agg := range sim.Aggs {
			if len(agg.Contacts) > 0 {
				m := companyscores.Build(e.Rules, agg)
				msgs = append(msgs, stream.Message(id, companyscores.Marshal(&m)))
			}
		}
		if err := replaceTopic(ctx, o.Brokers, o.CompanyScoresTopic, msgs); err != nil {
			return 0, 0, err
		}
	}
	return trackers, len(sim.Aggs), nil
}

// replaceTopic makes msgs the latest record of their keys on a compacted
// topic, and a tombstone the latest of every other key it holds. A record
// goes to the partition of the murmur2 hash of its key up to the first
// NUL, as the scorer writes them (a company's contact views go with the
// company).
func replaceTopic(ctx context.Context, brokers []string, topic string, msgs []stream.Record) error {
	n, err := stream.Partitions(ctx, brokers, topic)
	if err != nil {
		return err
	}
	byPart := make([][]stream.Record, n)
	keep := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		keep[string(m.Key)] = true
		route, _, _ := bytes.Cut(m.Key, []byte{0})
		p := stream.KeyPartition(route, n)
		byPart[p] = append(byPart[p], m)
	}
	w, err := stream.NewProducer(stream.ProducerConfig{Brokers: brokers, Topic: topic})
	if err != nil {
		return err
	}
	defer w.Close()
	for p := range n {
		held := map[string]bool{}
		if _, err := stream.RestorePartition(ctx, brokers, topic, p, func(m stream.Record) error {
			held[string(m.Key)] = m.Value != nil
			return nil
		}); err != nil {
			return fmt.Errorf("read %s/%d: %w", topic, p, err)
		}
		var out []stream.Record
		for k, live := range held {
			// An erased contact's marker stays (companies.go).
			if live && !keep[k] && !IsMarker([]byte(k)) {
				out = append(out, stream.Record{Key: []byte(k)})
			}
		}
		out = append(out, byPart[p]...)
		for i := 0; i < len(out); i += 1000 {
			if err := w.WritePartition(ctx, p, out[i:min(i+1000, len(out))]...); err != nil {
				return fmt.Errorf("write %s/%d: %w", topic, p, err)
			}
		}
	}
	return nil
}
