package scorerbench

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scorer"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
)

// accountsEngine is the benchmark rule set plus a company model rolling up
// its model: sum over contacts from 5 points, coverage on the contacts'
// lifecycle stage, a threshold.
func accountsEngine(groups int) (*scoring.Engine, error) {
	e, err := Engine(groups)
	if err != nil {
		return nil, err
	}
	m := e.Rules.Models[0]
	set := &rules.Set{Models: e.Rules.Models, Version: e.Rules.Version + "-accounts", Companies: []*rules.CompanyModel{{
		Name: "bench_accounts", From: m.Name, Rollup: rules.RollupSum, MinContactScore: 5 * rules.Scale,
		Coverage: &rules.Coverage{Property: "lifecycle_stage", Roles: map[string]rules.Points{
			"lead": 5 * rules.Scale, "marketingqualifiedlead": 10 * rules.Scale, "salesqualifiedlead": 20 * rules.Scale}},
		Thresholds: []rules.Threshold{{Name: "default", At: 150 * rules.Scale, RearmBelow: 100 * rules.Scale}},
	}}}
	return scoring.NewEngine(set)
}

// Accounts measures what company models cost the scorer end to end:
// the same events through `scorer run`'s processor without company models
// and with one (member tracking, the company topic, the company
// aggregator's group with its changelog and crossings), rounds
// interleaved, each timed until every group it runs has committed the end
// of its input. It prints events/s of each and the ratio.
func Accounts(ctx context.Context, brokers []string, n, partitions, contacts, days, rounds int, out io.Writer, log io.Writer) error {
	plain, err := Engine(100)
	if err != nil {
		return err
	}
	withCompanies, err := accountsEngine(100)
	if err != nil {
		return err
	}
	stamp := time.Now().UnixNano()
	in := fmt.Sprintf("bench-accounts-events-%d", stamp)
	if err := stream.EnsureTopics(ctx, brokers, stream.Topic{Name: in, Partitions: partitions}); err != nil {
		return err
	}
	p, err := stream.NewProducer(stream.ProducerConfig{Brokers: brokers, Topic: in})
	if err != nil {
		return err
	}
	var batch []stream.Record
	flush := func() error {
		err := p.Write(ctx, batch...)
		batch = batch[:0]
		return err
	}
	err = Source(1, contacts, days)(n, func(key string, value []byte) error {
		batch = append(batch, stream.Message(key, value))
		if len(batch) == 2000 {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	p.Close()
	if err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	fmt.Fprintf(log, "produced %d events to %s\n", n, in)
	var base, comp []time.Duration
	var changes int64
	for r := range rounds {
		for _, with := range []bool{false, true} {
			e := plain
			if with {
				e = withCompanies
			}
			d, ch, err := accountsRound(ctx, brokers, in, fmt.Sprintf("%d-%d-%v", stamp, r, with), e, log)
			if err != nil {
				return err
			}
			fmt.Fprintf(log, "round %d, company models %v: %.2fs\n", r+1, with, d.Seconds())
			if with {
				comp, changes = append(comp, d), ch
			} else {
				base = append(base, d)
			}
		}
	}
	med := func(ds []time.Duration) time.Duration { slices.Sort(ds); return ds[len(ds)/2] }
	b, c := med(base), med(comp)
	fmt.Fprintf(out, "%d events, %d contacts, %d partitions; median of %d rounds, interleaved\n", n, contacts, partitions, rounds)
	fmt.Fprintf(out, "  %-62s %10.0f events/s\n", "scorer end to end, no company model", float64(n)/b.Seconds())
	fmt.Fprintf(out, "  %-62s %10.0f events/s  %.2fx without\n", "scorer + company aggregator (1 company model, both groups done)", float64(n)/c.Seconds(), b.Seconds()/c.Seconds())
	fmt.Fprintf(out, "  company changes written: %d (%.2f per event)\n", changes, float64(changes)/float64(n))
	return nil
}

// accountsRound runs the scorer's processor (and, with company models,
// the company aggregator) over in with fresh groups and topics until
// every group has committed the end of its input.
func accountsRound(ctx context.Context, brokers []string, in, tag string, e *scoring.Engine, log io.Writer) (time.Duration, int64, error) {
	parts, err := stream.Partitions(ctx, brokers, in)
	if err != nil {
		return 0, 0, err
	}
	out := "bench-accounts-out-" + tag
	topics := []string{out, out + "-dlq", out + "-state", out + "-members", out + "-companies", out + "-companies-state"}
	err = stream.EnsureTopics(ctx, brokers,
		stream.Topic{Name: topics[0], Partitions: parts}, stream.Topic{Name: topics[1], Partitions: 1},
		stream.Topic{Name: topics[2], Partitions: parts, Compacted: true}, stream.Topic{Name: topics[3], Partitions: parts, Compacted: true},
		stream.Topic{Name: topics[4], Partitions: parts}, stream.Topic{Name: topics[5], Partitions: parts, Compacted: true})
	if err != nil {
		return 0, 0, err
	}
	defer deleteTopics(brokers, topics)
	producers := map[string]*stream.Producer{}
	for _, t := range topics {
		p, err := stream.NewProducer(stream.ProducerConfig{Brokers: brokers, Topic: t})
		if err != nil {
			return 0, 0, err
		}
		defer p.Close()
		producers[t] = p
	}
	cfg := scorer.Config{Brokers: brokers, Changelog: topics[2], Topic: in,
		Crossings: producers[out], DeadLetters: producers[topics[1]], States: producers[topics[2]], Log: zerolog.Nop()}
	with := len(e.Rules.Companies) > 0
	if with {
		cfg.Members = &scorer.Members{Brokers: brokers, Changelog: topics[3], Changes: producers[topics[4]], States: producers[topics[3]], Partitions: parts}
	}
	type run struct{ group, topic string }
	runs := []run{{"bench-accounts-scorer-" + tag, in}}
	handlers := []stream.Handler{scorer.NewProcessor(cfg, e)}
	if with {
		runs = append(runs, run{"bench-accounts-companies-" + tag, topics[4]})
		handlers = append(handlers, scorer.NewCompanyAggregator(scorer.CompanyConfig{Brokers: brokers, Changelog: topics[5],
			Crossings: producers[out], States: producers[topics[5]], Log: zerolog.Nop()}, e.Rules))
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(runs))
	start := time.Now()
	for i, r := range runs {
		g, err := stream.NewGroupConsumer(stream.GroupConfig{Brokers: brokers, Group: r.group, Topic: r.topic,
			MaxBatch: scorer.MaxBatch, CommitInterval: 100 * time.Millisecond}, handlers[i])
		if err != nil {
			return 0, 0, err
		}
		go func() { errc <- g.Run(rctx) }()
	}
	admin := stream.NewAdmin(brokers)
	defer admin.Close()
	for i := 0; i < len(runs); {
		select {
		case err := <-errc:
			return 0, 0, fmt.Errorf("pipeline stopped: %v", err)
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		// The company topic ends only once the scorer is done: check it
		// after.
		ok, err := admin.CaughtUp(ctx, runs[i].group, runs[i].topic, parts)
		if err != nil {
			return 0, 0, err
		}
		if ok {
			fmt.Fprintf(log, "  %s caught up after %.2fs\n", runs[i].group, time.Since(start).Seconds())
			i++
		}
	}
	d := time.Since(start)
	var changes int64
	if with {
		ends, _ := admin.EndOffsets(ctx, topics[4], parts)
		for _, e := range ends {
			changes += e
		}
	}
	return d, changes, nil
}

func deleteTopics(brokers []string, topics []string) {
	admin := stream.NewAdmin(brokers)
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = admin.DeleteTopics(ctx, topics...)
}
