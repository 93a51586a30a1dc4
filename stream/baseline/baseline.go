// Package baseline is kafka-go used directly, without stream's adapters:
// the floor benchmarks (cmd/internal/kafkabench) measure stream's cost
// against. It lives under stream/ because only stream knows the Kafka
// client; nothing in a service may use it.
package baseline

import (
	"context"
	"time"

	"github.com/segmentio/kafka-go"
)

// ConsumeGroupReader reads want messages of topic with kafka-go's own
// group Reader (no per-partition goroutines, no handler, commits every
// second) from the first offset, and returns how many it read.
func ConsumeGroupReader(ctx context.Context, brokers []string, topic, group string, want int) (int, error) {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: brokers, GroupID: group, Topic: topic,
		MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 250 * time.Millisecond,
		StartOffset: kafka.FirstOffset, CommitInterval: time.Second,
		HeartbeatInterval: time.Second,
	})
	defer r.Close()
	n := 0
	for n < want {
		if _, err := r.FetchMessage(ctx); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
