package scorer

import (
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
	"github.com/scorebridge/scorebridge/synth"
	"github.com/twmb/franz-go/pkg/kfake"
)

// BenchmarkRestorePartition measures what a partition's assignment costs:
// reading N contacts' states from the changelog (one record per contact,
// as after compaction; before compaction every version is read) versus
// loading the local snapshot. Run with
//
//	go test -run '^$' -bench RestorePartition -benchtime 5x ./scorer/
func BenchmarkRestorePartition(b *testing.B) {
	e := testEngine(b)
	for _, n := range []int{5000, 25000} {
		// A month of synthetic history per contact, scored.
		cfg := synth.Default()
		cfg.Contacts, cfg.Days = n, 30
		contacts := map[string]*scoring.Contact{}
		s := scoring.NewScorer(e)
		synth.Generate(cfg, func(ev *events.Event) error {
			c := contacts[ev.ContactID]
			if c == nil {
				c = &scoring.Contact{}
				contacts[ev.ContactID] = c
			}
			s.Apply(c, ev)
			return nil
		})
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
		if err != nil {
			b.Fatal(err)
		}
		brokers := c.ListenAddrs()
		ctx := b.Context()
		if err := stream.EnsureTopics(ctx, brokers, stream.Topic{Name: "states", Partitions: 1, Compacted: true}); err != nil {
			b.Fatal(err)
		}
		p, err := stream.NewProducer(stream.ProducerConfig{Brokers: brokers, Topic: "states"})
		if err != nil {
			b.Fatal(err)
		}
		msgs := make([]stream.Record, 0, len(contacts))
		bytes := 0
		for id, st := range contacts {
			v := e.Encode(nil, st)
			bytes += len(id) + len(v)
			msgs = append(msgs, stream.Message(id, v))
		}
		if err := p.Write(ctx, msgs...); err != nil {
			b.Fatal(err)
		}
		p.Close()
		dir := b.TempDir()
		part := &partition{id: 0, engine: e, contacts: contacts, next: 12345}
		end, err := stream.EndOffset(ctx, brokers, "states", 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := writeSnapshot(dir, "events", part, end); err != nil {
			b.Fatal(err)
		}
		for _, from := range []string{"changelog", "snapshot"} {
			b.Run(fmt.Sprintf("%s/contacts=%d", from, len(contacts)), func(b *testing.B) {
				cfg := Config{Brokers: brokers, Changelog: "states", Topic: "events", Log: zerolog.Nop()}
				if from == "snapshot" {
					cfg.StateDir = dir
				}
				var took time.Duration
				for b.Loop() {
					pr := NewProcessor(cfg, e)
					start := time.Now()
					if err := pr.Assigned(ctx, &stream.Claim{Topic: "events", Partition: 0, Committed: 12345}); err != nil {
						b.Fatal(err)
					}
					took += time.Since(start)
					if got := len(pr.parts[0].contacts); got != len(contacts) {
						b.Fatalf("restored %d contacts, want %d", got, len(contacts))
					}
				}
				b.ReportMetric(float64(took.Microseconds())/float64(b.N)/float64(len(contacts)), "µs/contact")
				b.ReportMetric(float64(bytes)/float64(len(contacts)), "state-bytes/contact")
			})
		}
		c.Close()
	}
}
