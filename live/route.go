package live

import (
	"fmt"
	"strconv"

	"github.com/segmentio/kafka-go"
)

// HeaderReroutedFrom marks an event the scorer forwarded to its home
// partition: its value is "PARTITION/OFFSET" of the copy that arrived
// elsewhere.
const HeaderReroutedFrom = "scorer-rerouted-from"

// murmur2 is the Java client's default partitioner (and stream.Producer's):
// a contact's home partition is where it puts the contact's events.
var murmur2 = kafka.Murmur2Balancer{Consistent: true}

// partitionIDs caches 0..n-1 for the balancer.
var partitionIDs []int

// HomePartition is the partition of n that murmur2 gives key, as Java
// clients, librdkafka's murmur2_random and `scorer produce` choose.
func HomePartition(key []byte, n int) int {
	ids := partitionIDs
	if len(ids) < n {
		ids = make([]int, n)
		for i := range ids {
			ids[i] = i
		}
	}
	return murmur2.Balance(kafka.Message{Key: key}, ids[:n]...)
}

func init() {
	partitionIDs = make([]int, 256)
	for i := range partitionIDs {
		partitionIDs[i] = i
	}
}

// forward is the copy of m for its home partition: the same key, value,
// time and headers, plus the hop.
func forward(m *kafka.Message) kafka.Message {
	headers := make([]kafka.Header, 0, len(m.Headers)+1)
	headers = append(headers, m.Headers...)
	headers = append(headers, kafka.Header{Key: HeaderReroutedFrom,
		Value: []byte(strconv.Itoa(m.Partition) + "/" + strconv.FormatInt(m.Offset, 10))})
	return kafka.Message{Key: m.Key, Value: m.Value, Time: m.Time, Headers: headers}
}

// partitionCountError explains a state keyed to another partition count
// of the events topic, and the way out.
func partitionCountError(topic string, partitions, partition, strays int, example string) error {
	return fmt.Errorf("partition %d of the state holds %d contacts (e.g. %q) whose home partition is another one "+
		"under %s's %d partitions: the events topic's partition count changed since this state was written "+
		"(or producers with another partitioner wrote to it before the scorer rerouted events). "+
		"Scoring on would split contacts between partitions. Remedy: restore the events topic's partition count, "+
		"or start over with a new --changelog-topic and a new --group together, which replays the events topic "+
		"into state keyed to the new count (crossings are re-announced under the same crossing_id)",
		partition, strays, example, topic, partitions)
}
