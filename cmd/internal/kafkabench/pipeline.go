package kafkabench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/scorebridge/scorebridge/stream"
)

// Transform is a Pipeline built on stream.GroupConsumer and an async
// stream.Producer: for each batch it applies fn to every message, hands
// the results to the producer (acks=all) and goes on with the next batch;
// a batch is committed once its results are acknowledged (Claim.Track),
// in offset order. At most maxInFlight batches wait for acks. It is the
// shape the scorer has, minus the state; fn returning nothing drops a
// message.
func Transform(fn func(stream.Record) []stream.Record) Pipeline {
	return func(ctx context.Context, brokers []string, in, out, group string) error {
		p, err := stream.NewProducer(stream.ProducerConfig{Brokers: brokers, Topic: out, Async: true})
		if err != nil {
			return err
		}
		defer p.Close()
		t := &transform{fn: fn, out: p, slots: make(chan struct{}, maxInFlight)}
		// A short commit interval: the bench counts the pipeline done
		// when its commits reach the end of the input.
		gc, err := stream.NewGroupConsumer(stream.GroupConfig{Brokers: brokers, Group: group, Topic: in, MaxBatch: 1000, CommitInterval: 100 * time.Millisecond}, t)
		if err != nil {
			return err
		}
		return gc.Run(ctx)
	}
}

const maxInFlight = 32

type transform struct {
	fn     func(stream.Record) []stream.Record
	out    *stream.Producer
	slots  chan struct{}
	failMu sync.Mutex
	failed error
}

func (t *transform) Assigned(context.Context, *stream.Claim) error { return nil }

func (t *transform) Revoked(ctx context.Context, c *stream.Claim) error {
	return c.WaitTracked(ctx)
}

func (t *transform) Handle(ctx context.Context, c *stream.Claim, msgs []stream.Record) error {
	t.failMu.Lock()
	err := t.failed
	t.failMu.Unlock()
	if err != nil {
		return err
	}
	var results []stream.Record
	for _, m := range msgs {
		results = append(results, t.fn(m)...)
	}
	select {
	case t.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	done := c.Track(msgs[len(msgs)-1].Offset + 1)
	return t.out.WriteAsync(ctx, func(err error) {
		<-t.slots
		if err != nil {
			t.failMu.Lock()
			t.failed = fmt.Errorf("forward %d results: %w", len(results), err)
			t.failMu.Unlock()
			return
		}
		done()
	}, results...)
}

// PassThrough copies every message (key, value, headers) downstream: the
// cost of consume -> produce -> commit with no processing.
func PassThrough() Pipeline {
	return Transform(func(m stream.Record) []stream.Record {
		return []stream.Record{{Key: m.Key, Value: m.Value, Headers: m.Headers}}
	})
}
