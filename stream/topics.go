package stream

import (
	"context"
	"errors"
	"fmt"

	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// Topic describes a topic EnsureTopics creates when it is missing, with
// the broker's default replication factor (default.replication.factor;
// Kafka 2.4 or later).
type Topic struct {
	Name       string
	Partitions int // <= 0: the broker's default
	// Compacted sets cleanup.policy=compact: the topic keeps the latest
	// value per key, as a state changelog needs.
	Compacted bool
	// Configs are extra topic configs (e.g. retention.ms).
	Configs map[string]string
}

// ParseTopics reads "name[:partitions],..." as flags give it.
func ParseTopics(s string) ([]Topic, error) {
	var out []Topic
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, parts, hasParts := strings.Cut(f, ":")
		t := Topic{Name: name}
		if hasParts {
			n, err := strconv.Atoi(parts)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("topic %q: partitions %q is not a positive integer", name, parts)
			}
			t.Partitions = n
		}
		out = append(out, t)
	}
	return out, nil
}

// EnsureTopics creates the topics that do not exist yet and waits until the
// cluster's metadata shows every one of them with a leader for each
// partition, so a producer started afterwards does not meet "Unknown Topic
// Or Partition". Existing topics are left as they are, whatever their
// partition count. It gives up when ctx ends.
func EnsureTopics(ctx context.Context, brokers []string, topics ...Topic) error {
	if len(brokers) == 0 {
		return errors.New("ensure topics: no brokers")
	}
	if len(topics) == 0 {
		return nil
	}
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr, Timeout: 10 * time.Second}

	req := &kafka.CreateTopicsRequest{}
	names := make([]string, 0, len(topics))
	for _, t := range topics {
		if t.Name == "" {
			return errors.New("ensure topics: empty topic name")
		}
		names = append(names, t.Name)
		tc := kafka.TopicConfig{Topic: t.Name, NumPartitions: t.Partitions, ReplicationFactor: -1}
		if tc.NumPartitions <= 0 {
			tc.NumPartitions = -1
		}
		if t.Compacted {
			tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: "cleanup.policy", ConfigValue: "compact"})
		}
		keys := make([]string, 0, len(t.Configs))
		for k := range t.Configs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: t.Configs[k]})
		}
		req.Topics = append(req.Topics, tc)
	}
	res, err := client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics %s on %s: %w", strings.Join(names, ","), strings.Join(brokers, ","), err)
	}
	var problems []string
	for name, terr := range res.Errors {
		if terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
			problems = append(problems, fmt.Sprintf("%s: %v", name, terr))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("create topics: %s", strings.Join(problems, "; "))
	}
	return waitForTopics(ctx, client, names)
}

// waitForTopics polls metadata until each topic answers without error and
// every partition has a leader.
func waitForTopics(ctx context.Context, client *kafka.Client, names []string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		missing, err := missingTopics(ctx, client, names)
		if err == nil && len(missing) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("wait for topics %s: %w (last error: %v)", strings.Join(names, ","), ctx.Err(), err)
			}
			return fmt.Errorf("wait for topics: %s not in metadata: %w", strings.Join(missing, ","), ctx.Err())
		case <-tick.C:
		}
	}
}

func missingTopics(ctx context.Context, client *kafka.Client, names []string) ([]string, error) {
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: names})
	if err != nil {
		return nil, err
	}
	ready := map[string]bool{}
	for _, t := range md.Topics {
		ok := t.Error == nil && len(t.Partitions) > 0
		for _, p := range t.Partitions {
			if p.Error != nil || p.Leader.Host == "" {
				ok = false
			}
		}
		ready[t.Name] = ok
	}
	var missing []string
	for _, n := range names {
		if !ready[n] {
			missing = append(missing, n)
		}
	}
	return missing, nil
}

// Partitions answers how many partitions a topic has.
func Partitions(ctx context.Context, brokers []string, topic string) (int, error) {
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr, Timeout: 10 * time.Second}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, fmt.Errorf("metadata for %s: %w", topic, err)
	}
	for _, t := range md.Topics {
		if t.Name == topic {
			if t.Error != nil {
				return 0, fmt.Errorf("metadata for %s: %w", topic, t.Error)
			}
			return len(t.Partitions), nil
		}
	}
	return 0, fmt.Errorf("metadata for %s: topic not found", topic)
}
