package stream

import (
	"context"
	"strconv"

	"github.com/segmentio/kafka-go"
)

// Headers a dead letter carries besides the original message's own.
const (
	HeaderDLQReason      = "dlq-reason"
	HeaderDLQSourceTopic = "dlq-source-topic"
	HeaderDLQPartition   = "dlq-partition"
	HeaderDLQOffset      = "dlq-offset"
)

// maxReasonBytes keeps a runaway error message from bloating the header.
const maxReasonBytes = 1024

// DeadLetter builds the dead-letter copy of m: the original key, value,
// timestamp and headers intact, plus the dlq-* headers saying why and where
// it came from. Write it with a Producer on the dead-letter topic.
func DeadLetter(m kafka.Message, reason string) kafka.Message {
	if len(reason) > maxReasonBytes {
		reason = reason[:maxReasonBytes]
	}
	headers := make([]kafka.Header, 0, len(m.Headers)+4)
	headers = append(headers, m.Headers...)
	headers = append(headers,
		kafka.Header{Key: HeaderDLQReason, Value: []byte(reason)},
		kafka.Header{Key: HeaderDLQSourceTopic, Value: []byte(m.Topic)},
		kafka.Header{Key: HeaderDLQPartition, Value: []byte(strconv.Itoa(m.Partition))},
		kafka.Header{Key: HeaderDLQOffset, Value: []byte(strconv.FormatInt(m.Offset, 10))},
	)
	return kafka.Message{Key: m.Key, Value: m.Value, Time: m.Time, Headers: headers}
}

// SendDeadLetter writes the dead-letter copy of m to the producer's topic
// and returns once it is acknowledged (in sync mode): only then may the
// caller commit past m.
func SendDeadLetter(ctx context.Context, dlq *Producer, m kafka.Message, reason string) error {
	return dlq.Write(ctx, DeadLetter(m, reason))
}
