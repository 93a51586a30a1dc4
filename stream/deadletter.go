package stream

import (
	"context"
	"strconv"
)

// Headers a dead letter carries besides the original message's own.
const (
	HeaderDLQReason      = "dlq-reason"
	HeaderDLQSourceTopic = "dlq-source-topic"
	HeaderDLQPartition   = "dlq-partition"
	HeaderDLQOffset      = "dlq-offset"
	// HeaderDLQTruncated, on a dead letter too large to copy whole, is the
	// original value's length in bytes; the value is then its first
	// DeadLetterPrefixBytes.
	HeaderDLQTruncated = "dlq-truncated"
)

// maxReasonBytes keeps a runaway error message from bloating the header.
const maxReasonBytes = 1024

// MaxDeadLetterBytes bounds a dead letter's key, value and headers: a copy
// must fit where Kafka's default max.message.bytes (1 MiB for a record
// batch) and the producer's batches take it, or the dead letter itself
// would fail, and with it every retry of the message it stands for.
const MaxDeadLetterBytes = MaxMessageBytes - 10_000

// DeadLetterPrefixBytes is how much of a value too large to copy whole a
// dead letter keeps: enough to recognise it.
const DeadLetterPrefixBytes = 64 << 10

// maxKeptBytes bounds the key and the original headers of a truncated
// dead letter.
const maxKeptBytes = 4 << 10

// DeadLetter builds the dead-letter copy of m: the original key, value,
// timestamp and headers intact, plus the dlq-* headers saying why and where
// it came from. Write it with a Producer on the dead-letter topic. A copy
// over MaxDeadLetterBytes keeps only the first DeadLetterPrefixBytes of the
// value (dlq-truncated gives the original length), and key and original
// headers only up to a few KB.
func DeadLetter(m Record, reason string) Record {
	if len(reason) > maxReasonBytes {
		reason = reason[:maxReasonBytes]
	}
	key, value, orig := m.Key, m.Value, m.Headers
	var truncated []byte
	if recordSize(key, value, orig)+len(reason)+200 > MaxDeadLetterBytes {
		truncated = []byte(strconv.Itoa(len(value)))
		if len(value) > DeadLetterPrefixBytes {
			value = value[:DeadLetterPrefixBytes:DeadLetterPrefixBytes]
		}
		if len(key) > maxKeptBytes {
			key = key[:maxKeptBytes:maxKeptBytes]
		}
		if recordSize(nil, nil, orig) > maxKeptBytes {
			orig = nil
		}
	}
	headers := make([]Header, 0, len(orig)+5)
	headers = append(headers, orig...)
	headers = append(headers,
		Header{Key: HeaderDLQReason, Value: []byte(reason)},
		Header{Key: HeaderDLQSourceTopic, Value: []byte(m.Topic)},
		Header{Key: HeaderDLQPartition, Value: []byte(strconv.Itoa(m.Partition))},
		Header{Key: HeaderDLQOffset, Value: []byte(strconv.FormatInt(m.Offset, 10))},
	)
	if truncated != nil {
		headers = append(headers, Header{Key: HeaderDLQTruncated, Value: truncated})
	}
	return Record{Key: key, Value: value, Time: m.Time, Headers: headers}
}

// StripDeadLetter is a dead letter reduced to its key (cut to a few KB)
// and the dlq-* headers, for a dead-letter topic that refused the bounded
// copy (a max.message.bytes below the default): what failed, where and
// why is still recorded.
func StripDeadLetter(d Record) Record {
	key := d.Key
	if len(key) > maxKeptBytes {
		key = key[:maxKeptBytes:maxKeptBytes]
	}
	var headers []Header
	for _, h := range d.Headers {
		switch h.Key {
		case HeaderDLQReason, HeaderDLQSourceTopic, HeaderDLQPartition, HeaderDLQOffset, HeaderDLQTruncated:
			headers = append(headers, h)
		}
	}
	if _, ok := d.Header(HeaderDLQTruncated); !ok {
		headers = append(headers, Header{Key: HeaderDLQTruncated, Value: []byte(strconv.Itoa(len(d.Value)))})
	}
	return Record{Key: key, Time: d.Time, Headers: headers}
}

// size is what a record's key, value and headers take, roughly as a
// batch counts them.
func recordSize(key, value []byte, headers []Header) int {
	n := len(key) + len(value) + 21
	for _, h := range headers {
		n += len(h.Key) + len(h.Value) + 10
	}
	return n
}

// SendDeadLetter writes the dead-letter copy of m to the producer's topic
// and returns once it is acknowledged (in sync mode): only then may the
// caller commit past m.
func SendDeadLetter(ctx context.Context, dlq *Producer, m Record, reason string) error {
	return dlq.Write(ctx, DeadLetter(m, reason))
}
