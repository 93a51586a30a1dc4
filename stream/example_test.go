package stream_test

import (
	"context"
	"encoding/json"
	"os"
	"os/signal"
	"syscall"

	"github.com/scorebridge/scorebridge/stream"
)

// scorer sketches the shape of a stateful service on GroupConsumer:
// per-partition state restored on assignment, bad messages dead-lettered,
// outputs written asynchronously and committed once acknowledged.
type scorer struct {
	brokers []string
	out     *stream.Producer // Async: true
	dlq     *stream.Producer
}

func (s *scorer) Assigned(ctx context.Context, c *stream.Claim) error {
	// Rebuild this partition's contacts from the co-partitioned changelog.
	_, err := stream.RestorePartition(ctx, s.brokers, "scorer-state", c.Partition, func(m stream.Record) error {
		return nil // load m.Key -> m.Value into the partition's state
	})
	return err
}

func (s *scorer) Handle(ctx context.Context, c *stream.Claim, msgs []stream.Record) error {
	var outputs []stream.Record
	for _, m := range msgs {
		var ev map[string]any
		if err := json.Unmarshal(m.Value, &ev); err != nil {
			if err := stream.SendDeadLetter(ctx, s.dlq, m, err.Error()); err != nil {
				return err // the broker is in trouble: stop, restart, replay
			}
			continue
		}
		// score ev; append crossings (keyed by contact id) to outputs
	}
	done := c.Track(msgs[len(msgs)-1].Offset + 1)
	return s.out.WriteAsync(ctx, func(err error) {
		if err == nil {
			done() // only now may the group commit past this batch
		}
		// on err: record it and return it from the next Handle
	}, outputs...)
}

func (s *scorer) Revoked(ctx context.Context, c *stream.Claim) error {
	return c.WaitTracked(ctx) // flush state here too
}

func ExampleGroupConsumer() {
	brokers := []string{"127.0.0.1:9092"}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := stream.EnsureTopics(ctx, brokers,
		stream.Topic{Name: "engagement-events", Partitions: 6},
		stream.Topic{Name: "lead-score-crossings", Partitions: 6},
		stream.Topic{Name: "engagement-events-dlq", Partitions: 6},
		stream.Topic{Name: "scorer-state", Partitions: 6, Compacted: true},
	); err != nil {
		panic(err)
	}
	out, _ := stream.NewProducer(stream.ProducerConfig{Brokers: brokers, Topic: "lead-score-crossings", Async: true})
	defer out.Close()
	dlq, _ := stream.NewProducer(stream.ProducerConfig{Brokers: brokers, Topic: "engagement-events-dlq"})
	defer dlq.Close()
	gc, err := stream.NewGroupConsumer(stream.GroupConfig{Brokers: brokers, Group: "scorer", Topic: "engagement-events"},
		&scorer{brokers: brokers, out: out, dlq: dlq})
	if err != nil {
		panic(err)
	}
	// Returns nil after SIGTERM, once partitions are revoked and committed.
	if err := gc.Run(ctx); err != nil {
		panic(err)
	}
}
