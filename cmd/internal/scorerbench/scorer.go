package scorerbench

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/cmd/internal/kafkabench"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scorer"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
	"github.com/scorebridge/scorebridge/synth"
)

// Engine compiles the benchmark rule set: one model of 100 filter
// groups in the shapes rule authors write (synth.Rules).
func Engine(groups int) (*scoring.Engine, error) {
	m, err := rules.Parse(fmt.Sprintf("bench-%d.yaml", groups), []byte(synth.Rules(groups)))
	if err != nil {
		return nil, err
	}
	return scoring.NewEngine(&rules.Set{Models: []*rules.Model{m}, Version: fmt.Sprintf("bench%d", groups)})
}

// Pipeline is `scorer run` without ClickHouse and HTTP: the same
// processor consuming in, announcing crossings to out, dead-lettering,
// saving each batch's changed contact states to a compacted changelog and
// committing after them.
func Pipeline(e *scoring.Engine) kafkabench.Pipeline {
	return scorerWith(e, "")
}

// ClickHousePipeline is Pipeline recording the touch history
// in ClickHouse as `scorer run --clickhouse` does: each round writes to a
// database of its own (dsn's, suffixed), dropped after it.
func ClickHousePipeline(e *scoring.Engine, dsn string) kafkabench.Pipeline {
	return scorerWith(e, dsn)
}

func scorerWith(e *scoring.Engine, dsn string) kafkabench.Pipeline {
	return func(ctx context.Context, brokers []string, in, out, group string) error {
		parts, err := stream.Partitions(ctx, brokers, in)
		if err != nil {
			return err
		}
		// Named after out, which is new each round: a changelog shared by
		// the rounds would hand round 2 the states of round 1, whose seen
		// sets make every event a duplicate.
		changelog, dlq := out+"-state", out+"-dlq"
		if err := stream.EnsureTopics(ctx, brokers,
			stream.Topic{Name: out, Partitions: parts},
			stream.Topic{Name: dlq, Partitions: 1},
			stream.Topic{Name: changelog, Partitions: parts, Compacted: true},
		); err != nil {
			return err
		}
		producers := map[string]*stream.Producer{}
		for _, t := range []string{out, dlq, changelog} {
			p, err := stream.NewProducer(stream.ProducerConfig{Brokers: brokers, Topic: t})
			if err != nil {
				return err
			}
			defer p.Close()
			producers[t] = p
		}
		var recorder scorer.Recorder
		if dsn != "" {
			store, err := analytics.Open(ctx, benchDatabase(dsn, out))
			if err != nil {
				return fmt.Errorf("clickhouse: %w", err)
			}
			defer store.Close()
			defer store.DropDatabase(context.WithoutCancel(ctx))
			w := store.NewWriter(scorer.HistoryWriterOptions)
			// Everything the scorer waited for is stored; what is left
			// (nothing, once the bench saw every offset committed) is
			// not worth waiting for.
			defer func() {
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				defer cancel()
				w.Close(cctx)
			}()
			recorder = w
		}
		p := scorer.NewProcessor(scorer.Config{
			Brokers: brokers, Changelog: changelog, Topic: in,
			Crossings: producers[out], DeadLetters: producers[dlq], States: producers[changelog],
			Recorder: recorder, Log: zerolog.Nop(),
		}, e)
		// A short commit interval, as in kafkabench.Transform: the bench
		// counts the pipeline done when its commits reach the end of in,
		// and the default 1s would add up to a second to each round.
		g, err := stream.NewGroupConsumer(stream.GroupConfig{Brokers: brokers, Group: group, Topic: in, MaxBatch: scorer.MaxBatch, CommitInterval: 100 * time.Millisecond}, p)
		if err != nil {
			return err
		}
		return g.Run(ctx)
	}
}

// benchDatabase is dsn with its database replaced by one named after the
// round's output topic.
func benchDatabase(dsn, out string) string {
	db := "kafkabench_" + strings.NewReplacer("-", "_", ".", "_").Replace(out)
	if i := strings.LastIndex(dsn, "/"); i > len("clickhouse://") {
		return dsn[:i+1] + db
	}
	return strings.TrimSuffix(dsn, "/") + "/" + db
}

// Source feeds the bench realistic engagement events (synth), whose
// types and properties the benchmark rules match.
func Source(seed uint64, contacts, days int) kafkabench.Source {
	return func(n int, emit func(string, []byte) error) error {
		cfg := synth.Default()
		cfg.Seed, cfg.Contacts, cfg.Companies, cfg.Days, cfg.Events, cfg.DuplicateRate = seed, contacts, max(1, contacts/7), days, n, 0.01
		return kafkabench.EventSource(func(emit func(*events.Event) error) error { return synth.Generate(cfg, emit) })(n, emit)
	}
}
