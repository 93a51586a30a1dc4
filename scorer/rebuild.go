package scorer

import (
	"context"
	"fmt"
	"io"

	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
)

// RebuildOptions say where the scorer keeps its state.
type RebuildOptions struct {
	Brokers     []string
	EventsTopic string
	Changelog   string // default EventsTopic + "-scorer-state"
	Group       string
	// CompaniesTopic is the scorers' company topic (default EventsTopic +
	// "-companies"), used when the rules have company models.
	CompaniesTopic string
	// CompanyScoresTopic, when set, is the company-scores topic the
	// scorers publish: the rebuild republishes every company's message.
	CompanyScoresTopic string
}

// Rebuild replaces every contact's state with its state under e, replayed
// from the stored history (open reads it as JSONL, every event the scorer
// recorded): what `scorer rescore --apply` does before the scorers restart
// with the new rules. The history holds every event whose offset was
// committed (touches are written before commits), and possibly a few
// after; the scorers then re-read those from their committed offsets and
// find them already in the state's seen set. No crossing is announced:
// contacts that cross under the new rules in the past stay quiet, as
// their crossing is history. It refuses while the scorer group has
// members, whose writes would interleave with these. When the rules have
// company models it rebuilds the member trackers and the companies' state
// too (rebuildCompanies), after the contacts'.
func Rebuild(ctx context.Context, o RebuildOptions, e *scoring.Engine, open func() (io.ReadCloser, error)) (int, error) {
	if o.Changelog == "" {
		o.Changelog = o.EventsTopic + "-scorer-state"
	}
	if err := groupIdle(ctx, o.Brokers, o.Group); err != nil {
		return 0, err
	}
	parts, err := stream.Partitions(ctx, o.Brokers, o.EventsTopic)
	if err != nil {
		return 0, err
	}
	if err := stream.EnsureTopics(ctx, o.Brokers, stream.Topic{Name: o.Changelog, Partitions: parts, Compacted: true}); err != nil {
		return 0, err
	}
	if err := changelogFollows(ctx, o.Brokers, o.Changelog, o.EventsTopic, parts); err != nil {
		return 0, err
	}
	p, err := stream.NewProducer(stream.ProducerConfig{Brokers: o.Brokers, Topic: o.Changelog})
	if err != nil {
		return 0, err
	}
	defer p.Close()
	in, err := open()
	if err != nil {
		return 0, err
	}
	defer in.Close()
	var batch []stream.Record
	written := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := p.Write(ctx, batch...)
		written += len(batch)
		batch = batch[:0]
		return err
	}
	_, err = backtest.Run(e, in, open, backtest.Options{
		State: func(id string, c *scoring.Contact) error {
			batch = append(batch, stream.Message(id, e.Encode(nil, c)))
			if len(batch) >= 1000 {
				return flush()
			}
			return nil
		},
	}, func(backtest.Line) error { return nil })
	if err == nil {
		err = flush()
	}
	if err != nil || len(e.Rules.Companies) == 0 {
		return written, err
	}
	if _, _, err := rebuildCompanies(ctx, o, e, open); err != nil {
		return written, fmt.Errorf("company state: %w", err)
	}
	return written, nil
}

// groupIdle fails when the consumer group has members.
func groupIdle(ctx context.Context, brokers []string, group string) error {
	admin := stream.NewAdmin(brokers)
	defer admin.Close()
	members, state, err := admin.GroupMembers(ctx, group)
	if err != nil {
		return err
	}
	if members > 0 {
		return fmt.Errorf("the scorer group %s has %d running members (state %s): stop every scorer first, or their writes would interleave with the rebuilt state", group, members, state)
	}
	return nil
}

// changelogFollows checks that the changelog has the events topic's
// partition count (parts), so a contact's state lives in the partition
// number of its events.
func changelogFollows(ctx context.Context, brokers []string, changelog, eventsTopic string, parts int) error {
	n, err := stream.Partitions(ctx, brokers, changelog)
	if err != nil {
		return fmt.Errorf("changelog %s: %w", changelog, err)
	}
	if n != parts {
		return fmt.Errorf("changelog %s has %d partitions, the events topic %s %d: the state is keyed to %d partitions "+
			"and would not follow its events (the events topic's partition count changed?). Remedy: restore %s to %d partitions, "+
			"or start over with a new --changelog-topic and a new --group together, which replays the events topic into state keyed to the new count",
			changelog, n, eventsTopic, parts, n, eventsTopic, n)
	}
	return nil
}
