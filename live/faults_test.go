package live

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/stream"
	"github.com/segmentio/kafka-go"
)

// A durable step that fails with --state-dir must not leave a snapshot
// holding the failed batch: the restart would trust it, take the batch's
// events for duplicates, and their crossings and states would never be
// written. Each step is failed in turn, three times, each failure
// followed by a restart over the same state directory.
func TestStateDirFailedStepIsReplayed(t *testing.T) {
	for _, step := range []string{"dead_letters", "crossings", "history", "state"} {
		t.Run(step, func(t *testing.T) {
			e := setup(t, 120)
			e.stateDir = t.TempDir()
			var mu sync.Mutex
			calls, failures := 0, 0
			crashes := e.runUntilDone(t, func(s string) error {
				mu.Lock()
				defer mu.Unlock()
				if s != step {
					return nil
				}
				calls++
				if calls%4 == 3 && failures < 3 {
					failures++
					return fmt.Errorf("injected failure of %s (call %d)", s, calls)
				}
				return nil
			})
			if crashes == 0 {
				t.Fatal("no failure injected")
			}
			t.Logf("%d failures of %s injected", crashes, step)
			checkAgainstBacktest(t, e)
		})
	}
}

// Producers that disagree on partitioning (here FNV-1a, kafka-go's Hash,
// for half of every contact's events, and murmur2 for the other half)
// split a contact's events over two partitions. Each event must still be
// scored once, in its key's murmur2 home partition, so that every score
// is the backtest's.
func TestTwoPartitionersScoreAtHome(t *testing.T) {
	e, msgs := prepare(t, 150)
	var fnv, murmur []kafka.Message
	for i, m := range msgs {
		if i%2 == 0 {
			fnv = append(fnv, m)
		} else {
			murmur = append(murmur, m)
		}
	}
	w := &kafka.Writer{Addr: kafka.TCP(e.brokers...), Topic: "events", Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond}
	defer w.Close()
	if err := w.WriteMessages(ctxFor(t, 30*time.Second), fnv...); err != nil {
		t.Fatal(err)
	}
	e.produce(t, murmur)
	moved := 0
	home := map[string]int{}
	for _, m := range readTopic(t, e.brokers, "events", partitions) {
		if h := HomePartition(m.Key, partitions); h != m.Partition {
			if _, hop := stream.Header(m, HeaderReroutedFrom); !hop {
				moved++
			}
		}
		home[string(m.Key)] = HomePartition(m.Key, partitions)
	}
	if moved == 0 {
		t.Fatal("every event is in its home partition: the test would check nothing")
	}

	e.runUntilDone(t, nil)

	want, _ := e.backtest(t)
	got := e.restoredScores(t)
	right := 0
	for k, v := range want {
		if got[k] == v {
			right++
		}
	}
	t.Logf("%d events produced outside their home partition; %d of %d contact scores right", moved, right, len(want))
	if right != len(want) || len(got) != len(want) {
		t.Errorf("%d of %d scores right (%d restored)", right, len(want), len(got))
	}
	forwarded := 0
	for _, m := range readTopic(t, e.brokers, "events", partitions) {
		if _, hop := stream.Header(m, HeaderReroutedFrom); hop {
			forwarded++
			if m.Partition != home[string(m.Key)] {
				t.Errorf("event keyed %q forwarded to partition %d, its home is %d", m.Key, m.Partition, home[string(m.Key)])
			}
		}
	}
	if forwarded < moved {
		t.Errorf("%d events forwarded, %d arrived outside their home partition", forwarded, moved)
	}
	// Each contact's state lives in its home partition only.
	for p := 0; p < partitions; p++ {
		stream.RestorePartition(ctxFor(t, 30*time.Second), e.brokers, "states", p, func(m kafka.Message) error {
			if h := HomePartition(m.Key, partitions); h != p {
				t.Errorf("state of %q in changelog partition %d, its home is %d", m.Key, p, h)
			}
			return nil
		})
	}
}

// Adding partitions to the events topic (and, to get past the service's
// own check, to the changelog) re-maps contacts: the state restored for a
// partition then holds contacts whose events now go elsewhere. The
// scorer must refuse to start, saying why and what to do.
func TestPartitionCountChangeRefused(t *testing.T) {
	e := setup(t, 60)
	e.runUntilDone(t, nil)
	client := &kafka.Client{Addr: kafka.TCP(e.brokers...)}
	res, err := client.CreatePartitions(ctxFor(t, 30*time.Second), &kafka.CreatePartitionsRequest{Topics: []kafka.TopicPartitionsConfig{
		{Name: "events", Count: partitions + 2}, {Name: "states", Count: partitions + 2},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for topic, err := range res.Errors {
		if err != nil {
			t.Fatalf("%s: %v", topic, err)
		}
	}
	p := NewProcessor(Config{
		Brokers: e.brokers, Changelog: "states", Topic: "events",
		States: producer(t, e.brokers, "states"), Forward: producer(t, e.brokers, "events"),
		Partitions: partitions + 2, Log: zerolog.Nop(),
	}, e.engine)
	g := e.consumer(t, p)
	err = g.Run(ctxFor(t, time.Minute))
	if err == nil || !strings.Contains(err.Error(), "partition count changed") || !strings.Contains(err.Error(), "--changelog-topic") {
		t.Fatalf("Run = %v, want the partition count change refused with the remedy", err)
	}
	t.Log(err)
}
