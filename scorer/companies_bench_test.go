package scorer

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
	"github.com/scorebridge/scorebridge/synth"
)

// keep is a producer that keeps what it is given.
type keep struct{ msgs []stream.Record }

func (k *keep) Write(_ context.Context, msgs ...stream.Record) error {
	k.msgs = append(k.msgs, msgs...)
	return nil
}

func (k *keep) WritePartition(_ context.Context, _ int, msgs ...stream.Record) error {
	k.msgs = append(k.msgs, msgs...)
	return nil
}

// BenchmarkHandleCompanies is BenchmarkHandle's events with a company
// model rolling up the bench model: sub-benchmarks for the processor
// without and with member tracking (changes and trackers encoded and
// kept), and for the company aggregator over the changes it made. Kafka
// is left out, as in BenchmarkHandle; kafkabench --pipeline accounts
// measures the whole.
//
//	go test -run '^$' -bench HandleCompanies -benchtime 3x ./scorer/
func BenchmarkHandleCompanies(b *testing.B) {
	m, err := rules.Parse("bench-100.yaml", []byte(synth.Rules(100)))
	if err != nil {
		b.Fatal(err)
	}
	set := &rules.Set{Models: []*rules.Model{m}, Version: "bench100", Companies: []*rules.CompanyModel{{
		Name: "bench_accounts", From: m.Name, Rollup: rules.RollupSum, MinContactScore: 5 * rules.Scale,
		Coverage:   &rules.Coverage{Property: "lifecycle_stage", Roles: map[string]rules.Points{"lead": 5 * rules.Scale, "salesqualifiedlead": 20 * rules.Scale}},
		Thresholds: []rules.Threshold{{Name: "default", At: 150 * rules.Scale, RearmBelow: 100 * rules.Scale}},
	}}}
	e, err := scoring.NewEngine(set)
	if err != nil {
		b.Fatal(err)
	}
	cfg := synth.Default()
	cfg.Contacts, cfg.Companies, cfg.Days, cfg.Events, cfg.DuplicateRate = 16_667, 2_381, 365, 50_000, 0.01
	var msgs []stream.Record
	synth.Generate(cfg, func(ev *events.Event) error {
		data, err := json.Marshal(ev)
		msgs = append(msgs, stream.Message(ev.ContactID, data))
		return err
	})
	const batch = 2000
	var changes []stream.Record
	run := func(b *testing.B, members bool) {
		for b.Loop() {
			var crossings, states discard
			c := &stream.Claim{}
			pcfg := Config{Crossings: &crossings, DeadLetters: &crossings, States: &states, Log: zerolog.Nop()}
			var kept, trackers keep
			if members {
				pcfg.Members = &Members{Changes: &kept, States: &trackers,
					parts: map[int]map[string]*accounts.Tracker{0: {}}}
			}
			p := NewProcessor(pcfg, e)
			p.own(&partition{engine: e, scorer: scoring.NewScorer(e), contacts: map[string]*scoring.Contact{}})
			for i := 0; i < len(msgs); i += batch {
				if err := p.Handle(b.Context(), c, msgs[i:min(i+batch, len(msgs))]); err != nil {
					b.Fatal(err)
				}
			}
			changes = kept.msgs
			if members {
				b.ReportMetric(float64(len(kept.msgs))/float64(len(msgs)), "changes/event")
				b.ReportMetric(float64(len(trackers.msgs))/float64(len(msgs)), "trackers/event")
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)), "ns/event")
	}
	b.Run("contacts", func(b *testing.B) { run(b, false) })
	b.Run("contacts+members", func(b *testing.B) { run(b, true) })
	b.Run("aggregator", func(b *testing.B) {
		for i := range changes {
			changes[i].Offset = int64(i)
		}
		for b.Loop() {
			var crossings, states discard
			a := NewCompanyAggregator(CompanyConfig{Crossings: &crossings, States: &states, Log: zerolog.Nop()}, set)
			a.parts[0] = &companyPart{aggs: map[string]*accounts.Aggregate{}}
			c := &stream.Claim{}
			for i := 0; i < len(changes); i += batch {
				if err := a.Handle(b.Context(), c, changes[i:min(i+batch, len(changes))]); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)), "ns/event")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(changes)), "ns/change")
	})
	_ = time.Second
}
