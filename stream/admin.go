package stream

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/segmentio/kafka-go"
)

// Admin answers questions about topics and consumer groups (end offsets,
// committed offsets, members) and changes topics, for tools, tests and
// benchmarks that watch a pipeline from outside. One Admin keeps its
// connections; Close releases them. It is safe for concurrent use.
type Admin struct {
	tr     *kafka.Transport
	client *kafka.Client
}

// NewAdmin builds an Admin; it connects lazily.
func NewAdmin(brokers []string) *Admin {
	// A transport of its own: the shared default one caches metadata and
	// may still believe a just-created topic does not exist.
	tr := &kafka.Transport{}
	return &Admin{tr: tr, client: &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr, Timeout: 10 * time.Second}}
}

// Close releases the Admin's connections.
func (a *Admin) Close() { a.tr.CloseIdleConnections() }

// EndOffsets answers the offset the next message written to each of the
// topic's partitions 0..partitions-1 gets.
func (a *Admin) EndOffsets(ctx context.Context, topic string, partitions int) (map[int]int64, error) {
	reqs := make([]kafka.OffsetRequest, partitions)
	for p := range reqs {
		reqs[p] = kafka.LastOffsetOf(p)
	}
	res, err := a.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	out := make(map[int]int64, partitions)
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("end offset of %s/%d: %w", topic, po.Partition, po.Error)
		}
		out[po.Partition] = po.LastOffset
	}
	return out, nil
}

// CommittedOffsets answers the group's committed offset of each of the
// topic's partitions 0..partitions-1: -1 where it committed none (also
// when the group does not exist).
func (a *Admin) CommittedOffsets(ctx context.Context, group, topic string, partitions int) (map[int]int64, error) {
	ids := make([]int, partitions)
	for p := range ids {
		ids[p] = p
	}
	res, err := a.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ids}})
	if err != nil {
		return nil, fmt.Errorf("committed offsets of group %s on %s: %w", group, topic, err)
	}
	out := make(map[int]int64, partitions)
	if errors.Is(res.Error, kafka.GroupIdNotFound) {
		// A group that never committed (kfake answers so; Kafka answers
		// -1 for every partition).
		for p := range ids {
			out[p] = -1
		}
		return out, nil
	}
	if res.Error != nil {
		return nil, fmt.Errorf("committed offsets of group %s on %s: %w", group, topic, res.Error)
	}
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("committed offset of group %s on %s/%d: %w", group, topic, po.Partition, po.Error)
		}
		out[po.Partition] = po.CommittedOffset
	}
	return out, nil
}

// CaughtUp says the group committed every partition 0..partitions-1 of the
// topic up to its end; an empty partition, never committed, counts as
// caught up.
func (a *Admin) CaughtUp(ctx context.Context, group, topic string, partitions int) (bool, error) {
	ends, err := a.EndOffsets(ctx, topic, partitions)
	if err != nil {
		return false, err
	}
	committed, err := a.CommittedOffsets(ctx, group, topic, partitions)
	if err != nil {
		return false, err
	}
	for p, end := range ends {
		if end > 0 && committed[p] < end {
			return false, nil
		}
	}
	return true, nil
}

// GroupMembers answers how many members the consumer group has and its
// state (e.g. "Stable", "Empty", "Dead").
func (a *Admin) GroupMembers(ctx context.Context, group string) (members int, state string, err error) {
	res, err := a.client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
	if err != nil {
		return 0, "", fmt.Errorf("describe group %s: %w", group, err)
	}
	for _, g := range res.Groups {
		if g.Error != nil {
			return 0, "", fmt.Errorf("describe group %s: %w", group, g.Error)
		}
		members += len(g.Members)
		state = g.GroupState
	}
	return members, state, nil
}

// Topics lists the cluster's topics, sorted.
func (a *Admin) Topics(ctx context.Context) ([]string, error) {
	md, err := a.client.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	names := make([]string, 0, len(md.Topics))
	for _, t := range md.Topics {
		names = append(names, t.Name)
	}
	sort.Strings(names)
	return names, nil
}

// DeleteTopics deletes the topics; one that does not exist is no error.
func (a *Admin) DeleteTopics(ctx context.Context, topics ...string) error {
	res, err := a.client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: topics})
	if err != nil {
		return fmt.Errorf("delete topics %v: %w", topics, err)
	}
	var errs []error
	for name, terr := range res.Errors {
		if terr != nil && !errors.Is(terr, kafka.UnknownTopicOrPartition) {
			errs = append(errs, fmt.Errorf("delete topic %s: %w", name, terr))
		}
	}
	return errors.Join(errs...)
}

// AlterTopicConfigs sets configs (e.g. max.message.bytes) of an existing
// topic. Kafka's AlterConfigs replaces the topic's whole dynamic config:
// configs not named go back to their defaults.
func (a *Admin) AlterTopicConfigs(ctx context.Context, topic string, configs map[string]string) error {
	var alter []kafka.AlterConfigRequestConfig
	for k, v := range configs {
		alter = append(alter, kafka.AlterConfigRequestConfig{Name: k, Value: v})
	}
	res, err := a.client.AlterConfigs(ctx, &kafka.AlterConfigsRequest{Resources: []kafka.AlterConfigRequestResource{
		{ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, Configs: alter},
	}})
	if err != nil {
		return fmt.Errorf("alter configs of %s: %w", topic, err)
	}
	for _, e := range res.Errors {
		if e != nil {
			return fmt.Errorf("alter configs of %s: %w", topic, e)
		}
	}
	return nil
}

// TopicConfig answers a topic's value of one config (e.g. cleanup.policy):
// its own, or the broker's default when the topic sets none.
func (a *Admin) TopicConfig(ctx context.Context, topic, name string) (string, error) {
	res, err := a.client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{
		{ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{name}},
	}})
	if err != nil {
		return "", fmt.Errorf("describe configs of %s: %w", topic, err)
	}
	for _, r := range res.Resources {
		if r.Error != nil {
			return "", fmt.Errorf("describe configs of %s: %w", topic, r.Error)
		}
		for _, e := range r.ConfigEntries {
			if e.ConfigName == name {
				return e.ConfigValue, nil
			}
		}
	}
	return "", fmt.Errorf("describe configs of %s: no %s", topic, name)
}

// murmur2 is the Java client's default partitioner (and the producer's),
// consistent: a nil key maps like an empty one rather than at random.
var murmur2 = kafka.Murmur2Balancer{Consistent: true}

// partitionIDs caches 0..255 for the balancer.
var partitionIDs = func() []int {
	ids := make([]int, 256)
	for i := range ids {
		ids[i] = i
	}
	return ids
}()

// KeyPartition is the partition of n that murmur2 gives key, as Java
// clients, librdkafka's murmur2_random and Producer choose.
func KeyPartition(key []byte, n int) int {
	ids := partitionIDs
	if len(ids) < n {
		ids = make([]int, n)
		for i := range ids {
			ids[i] = i
		}
	}
	return murmur2.Balance(kafka.Message{Key: key}, ids[:n]...)
}

// AddPartitions raises each named topic's partition count to its value.
// Keys then map to other partitions: consumers keeping state by partition
// must be stopped first and refuse the change (see package scorer's check).
func (a *Admin) AddPartitions(ctx context.Context, counts map[string]int) error {
	var topics []kafka.TopicPartitionsConfig
	for name, n := range counts {
		topics = append(topics, kafka.TopicPartitionsConfig{Name: name, Count: int32(n)})
	}
	res, err := a.client.CreatePartitions(ctx, &kafka.CreatePartitionsRequest{Topics: topics})
	if err != nil {
		return fmt.Errorf("add partitions %v: %w", counts, err)
	}
	var errs []error
	for name, terr := range res.Errors {
		if terr != nil {
			errs = append(errs, fmt.Errorf("add partitions to %s: %w", name, terr))
		}
	}
	return errors.Join(errs...)
}
