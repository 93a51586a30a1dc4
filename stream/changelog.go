package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// RestorePartition reads one partition of a topic (typically a compacted
// state changelog) from its first offset up to its end as it stands when
// called, passing each message to fn in offset order. It returns the end
// offset it read to. A message with a nil Value is a tombstone: the key
// was deleted.
//
// For a contact's state to live in the same partition number as its
// events, create the changelog with the same partition count as the events
// topic and key both by contact id, and write the state of what events
// partition p carries to changelog partition p (Producer.WritePartition;
// the producer's murmur2 partitioner maps a key to the same partition in
// both too): restoring changelog partition p on assignment of events
// partition p restores exactly the contacts that partition carries.
func RestorePartition(ctx context.Context, brokers []string, topic string, partition int, fn func(Record) error) (int64, error) {
	first, end, err := partitionBounds(ctx, brokers, topic, partition)
	if err != nil {
		return 0, err
	}
	if end <= first {
		return end, nil
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: brokers, Topic: topic, Partition: partition,
		MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 250 * time.Millisecond,
	})
	defer r.Close()
	if err := r.SetOffset(first); err != nil {
		return 0, fmt.Errorf("restore %s/%d: seek to %d: %w", topic, partition, first, err)
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return 0, fmt.Errorf("restore %s/%d at offset %d of %d: %w", topic, partition, r.Offset(), end, err)
		}
		if m.Offset >= end {
			return end, nil
		}
		if err := fn(fromKafkaOne(m)); err != nil {
			return 0, fmt.Errorf("restore %s/%d offset %d: %w", topic, partition, m.Offset, err)
		}
		if m.Offset+1 >= end {
			return end, nil
		}
	}
}

// ReadTopic reads every partition of topic, in partition order, from its
// first offset to its end as it stands when that partition is reached
// (RestorePartition on each), passing each message to fn. It returns the
// topic's partition count.
func ReadTopic(ctx context.Context, brokers []string, topic string, fn func(Record) error) (partitions int, err error) {
	n, err := Partitions(ctx, brokers, topic)
	if err != nil {
		return 0, err
	}
	for p := 0; p < n; p++ {
		if _, err := RestorePartition(ctx, brokers, topic, p, fn); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// partitionBounds answers the first and the end (next to be written)
// offsets of a partition.
func partitionBounds(ctx context.Context, brokers []string, topic string, partition int) (first, end int64, err error) {
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr, Timeout: 10 * time.Second}
	res, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
		topic: {kafka.FirstOffsetOf(partition), kafka.LastOffsetOf(partition)},
	}})
	if err != nil {
		return 0, 0, fmt.Errorf("offsets of %s/%d: %w", topic, partition, err)
	}
	for _, po := range res.Topics[topic] {
		if po.Partition != partition {
			continue
		}
		if po.Error != nil {
			return 0, 0, fmt.Errorf("offsets of %s/%d: %w", topic, partition, po.Error)
		}
		return po.FirstOffset, po.LastOffset, nil
	}
	return 0, 0, fmt.Errorf("offsets of %s/%d: partition not found", topic, partition)
}

// EndOffset is the offset the next message written to a partition gets.
func EndOffset(ctx context.Context, brokers []string, topic string, partition int) (int64, error) {
	_, end, err := partitionBounds(ctx, brokers, topic, partition)
	return end, err
}
