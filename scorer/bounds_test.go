package scorer

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/stream"
	"github.com/twmb/franz-go/pkg/kfake"
)

// A batch of dead letters that the broker refuses only in part (one
// partition's batch over the topic's max.message.bytes, the other's
// stored) is finished one message at a time: each dead letter is in the
// topic once, the refused one without its payload.
func TestWriteBoundedAfterAPartialRefusal(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	if err := stream.EnsureTopics(ctxFor(t, 30*time.Second), brokers,
		stream.Topic{Name: "dlq", Partitions: 2, Configs: map[string]string{"max.message.bytes": "50000"}}); err != nil {
		t.Fatal(err)
	}
	w, err := stream.NewProducer(stream.ProducerConfig{Brokers: brokers, Topic: "dlq"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// Keys of both partitions: small dead letters in one, a large one in
	// the other.
	var small []string
	large := ""
	for i := 0; len(small) < 3 || large == ""; i++ {
		k := fmt.Sprintf("c%d", i)
		if HomePartition([]byte(k), 2) == 0 {
			if len(small) < 3 {
				small = append(small, k)
			}
		} else if large == "" {
			large = k
		}
	}
	var msgs []stream.Record
	for i, k := range small {
		msgs = append(msgs, stream.DeadLetter(stream.Record{Topic: "events", Key: []byte(k), Value: []byte("not json"), Offset: int64(i)}, "malformed"))
	}
	msgs = append(msgs, stream.DeadLetter(stream.Record{Topic: "events", Key: []byte(large), Value: []byte(strings.Repeat("x", 80_000)), Offset: 9}, "malformed"))

	engine := testEngine(t)
	p := NewProcessor(Config{Log: zerolog.Nop(), Metrics: NewMetrics(prometheus.NewRegistry(), func() float64 { return 0 })}, engine)
	if err := p.writeBounded(ctxFor(t, 30*time.Second), w, msgs, "dead_letter", stream.StripDeadLetter); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, m := range readTopic(t, brokers, "dlq", 2) {
		seen[string(m.Key)]++
		if string(m.Key) == large && len(m.Value) != 0 {
			t.Errorf("the refused dead letter was written with its %d-byte payload", len(m.Value))
		}
	}
	for _, k := range append(small, large) {
		if seen[k] != 1 {
			t.Errorf("dead letter %s written %d times, want once", k, seen[k])
		}
	}
	if got := counterValue(t, p.cfg.Metrics.Bounded.WithLabelValues("dead_letter")); got != 1 {
		t.Errorf("scorer_bounded_total{kind=dead_letter} = %v, want 1", got)
	}
}
