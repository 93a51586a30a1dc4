package stream

import (
	"fmt"
	"maps"
	"testing"
	"time"
)

func TestChangelogIsCoPartitionedAndRestores(t *testing.T) {
	brokers := newCluster(t)
	ctx := testCtx(t, 30*time.Second)
	if err := EnsureTopics(ctx, brokers, Topic{Name: "state", Partitions: testPartitions, Compacted: true}); err != nil {
		t.Fatal(err)
	}
	var evs, states []Record
	for i := 0; i < 40; i++ {
		k := fmt.Sprintf("contact-%d", i)
		evs = append(evs, Message(k, []byte("event")))
		states = append(states, Message(k, []byte("v1")), Message(k, []byte("v2")))
	}
	// contact-0 is deleted: its last record is a tombstone.
	states = append(states, Record{Key: []byte("contact-0")})
	produce(t, ctx, brokers, testTopic, evs...)
	produce(t, ctx, brokers, "state", states...)

	eventPartition := map[string]int{}
	for _, m := range readAll(t, ctx, brokers, testTopic, testPartitions) {
		eventPartition[string(m.Key)] = m.Partition
	}
	restored := map[string]string{}
	for p := 0; p < testPartitions; p++ {
		end, err := RestorePartition(ctx, brokers, "state", p, func(m Record) error {
			if eventPartition[string(m.Key)] != p {
				t.Errorf("state of %s in partition %d, its events in %d", m.Key, p, eventPartition[string(m.Key)])
			}
			if m.Value == nil {
				delete(restored, string(m.Key))
			} else {
				restored[string(m.Key)] = string(m.Value)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if end < 0 {
			t.Fatalf("end offset %d", end)
		}
	}
	if len(restored) != 39 || restored["contact-1"] != "v2" {
		t.Fatalf("restored %d contacts (contact-1=%q); want 39, latest values, contact-0 deleted", len(restored), restored["contact-1"])
	}
	if _, ok := restored["contact-0"]; ok {
		t.Fatal("the tombstone did not delete contact-0")
	}
	// ReadTopic restores every partition, in partition order, and answers
	// their count.
	read := map[string]string{}
	last := -1
	n, err := ReadTopic(ctx, brokers, "state", func(m Record) error {
		if m.Partition < last {
			t.Errorf("ReadTopic: partition %d after %d", m.Partition, last)
		}
		last = m.Partition
		if m.Value == nil {
			delete(read, string(m.Key))
		} else {
			read[string(m.Key)] = string(m.Value)
		}
		return nil
	})
	if err != nil || n != testPartitions || !maps.Equal(read, restored) {
		t.Fatalf("ReadTopic: %d partitions, err %v, %d contacts; want %d partitions and the %d contacts RestorePartition gave", n, err, len(read), testPartitions, len(restored))
	}
	// An empty partition restores at once.
	if err := EnsureTopics(ctx, brokers, Topic{Name: "empty", Partitions: 1, Compacted: true}); err != nil {
		t.Fatal(err)
	}
	if end, err := RestorePartition(ctx, brokers, "empty", 0, func(Record) error { return nil }); err != nil || end != 0 {
		t.Fatalf("empty partition: end %d, err %v", end, err)
	}
}
