package kafkabench

import (
	"context"
	"fmt"
	"time"

	"github.com/scorebridge/scorebridge/stream"
	"github.com/segmentio/kafka-go"
)

// Transform is a Pipeline built on stream.GroupConsumer and a synchronous
// stream.Producer: for each batch it applies fn to every message, writes
// the results (acks=all), then marks the batch committed. It is the shape
// the scorer has, minus the state; fn returning nothing drops a message.
func Transform(fn func(kafka.Message) []kafka.Message) Pipeline {
	return func(ctx context.Context, brokers []string, in, out, group string) error {
		p, err := stream.NewProducer(stream.ProducerConfig{Brokers: brokers, Topic: out})
		if err != nil {
			return err
		}
		defer p.Close()
		// A short commit interval: the bench counts the pipeline done
		// when its commits reach the end of the input.
		gc, err := stream.NewGroupConsumer(stream.GroupConfig{Brokers: brokers, Group: group, Topic: in, MaxBatch: 1000, CommitInterval: 100 * time.Millisecond}, &transform{fn: fn, out: p})
		if err != nil {
			return err
		}
		return gc.Run(ctx)
	}
}

type transform struct {
	fn  func(kafka.Message) []kafka.Message
	out *stream.Producer
}

func (t *transform) Assigned(context.Context, *stream.Claim) error { return nil }
func (t *transform) Revoked(context.Context, *stream.Claim) error  { return nil }

func (t *transform) Handle(ctx context.Context, c *stream.Claim, msgs []kafka.Message) error {
	var results []kafka.Message
	for _, m := range msgs {
		results = append(results, t.fn(m)...)
	}
	if err := t.out.Write(ctx, results...); err != nil {
		return fmt.Errorf("forward %d results: %w", len(results), err)
	}
	c.Commit(msgs[len(msgs)-1].Offset + 1)
	return nil
}

// PassThrough copies every message (key, value, headers) downstream: the
// cost of consume -> produce -> commit with no processing.
func PassThrough() Pipeline {
	return Transform(func(m kafka.Message) []kafka.Message {
		return []kafka.Message{{Key: m.Key, Value: m.Value, Headers: m.Headers}}
	})
}
