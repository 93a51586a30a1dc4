package scorer

import (
	"fmt"
	"strconv"

	"github.com/scorebridge/scorebridge/stream"
)

// HeaderReroutedFrom marks an event the scorer forwarded to its home
// partition: its value is "PARTITION/OFFSET" of the copy that arrived
// elsewhere.
const HeaderReroutedFrom = "scorer-rerouted-from"

// HomePartition is the partition of n that murmur2 gives key, as Java
// clients, librdkafka's murmur2_random and `scorer produce` choose: a
// contact's home partition is where they put the contact's events.
func HomePartition(key []byte, n int) int { return stream.KeyPartition(key, n) }

// forward is the copy of m for its home partition: the same key, value,
// time and headers, plus the hop.
func forward(m *stream.Record) stream.Record {
	headers := make([]stream.Header, 0, len(m.Headers)+1)
	headers = append(headers, m.Headers...)
	headers = append(headers, stream.Header{Key: HeaderReroutedFrom,
		Value: []byte(strconv.Itoa(m.Partition) + "/" + strconv.FormatInt(m.Offset, 10))})
	return stream.Record{Key: m.Key, Value: m.Value, Time: m.Time, Headers: headers}
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
