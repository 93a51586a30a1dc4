package stream

import (
	"time"

	"github.com/segmentio/kafka-go"
)

// Record is one Kafka message as the rest of scorebridge sees it: what a
// Handler receives, what a Producer writes, what a changelog restores and
// a dead letter copies. Only this package knows the Kafka client; a change
// of client is a change of stream alone.
type Record struct {
	// Topic, Partition and Offset say where a consumed record came from;
	// a record to write leaves them zero (the producer picks the topic and
	// the partition).
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	// Value nil is a tombstone on a compacted topic.
	Value   []byte
	Headers []Header
	// Time is the record's timestamp; zero on a record to write means now.
	Time time.Time
}

// Header is one record header.
type Header struct {
	Key   string
	Value []byte
}

// Header returns the value of the record's first header with that name.
func (r Record) Header(name string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == name {
			return string(h.Value), true
		}
	}
	return "", false
}

// Message builds a keyed record; headers come as name, value pairs.
func Message(key string, value []byte, headers ...string) Record {
	m := Record{Key: []byte(key), Value: value}
	for i := 0; i+1 < len(headers); i += 2 {
		m.Headers = append(m.Headers, Header{Key: headers[i], Value: []byte(headers[i+1])})
	}
	return m
}

// Offsets a consumer group without a committed offset starts from
// (GroupConfig.StartOffset) or a Claim resumes at (Claim.StartAt).
const (
	FirstOffset = kafka.FirstOffset
	LastOffset  = kafka.LastOffset
)

// fromKafka converts consumed messages; the headers of all of them share
// one allocation.
func fromKafka(msgs []kafka.Message) []Record {
	n := 0
	for i := range msgs {
		n += len(msgs[i].Headers)
	}
	var hs []Header
	if n > 0 {
		hs = make([]Header, n)
	}
	out := make([]Record, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		var h []Header
		if len(m.Headers) > 0 {
			h = hs[:len(m.Headers):len(m.Headers)]
			hs = hs[len(m.Headers):]
			for j, kh := range m.Headers {
				h[j] = Header{Key: kh.Key, Value: kh.Value}
			}
		}
		out[i] = Record{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset,
			Key: m.Key, Value: m.Value, Headers: h, Time: m.Time}
	}
	return out
}

// fromKafkaOne converts one consumed message.
func fromKafkaOne(m kafka.Message) Record {
	return Record{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset,
		Key: m.Key, Value: m.Value, Headers: fromKafkaHeaders(m.Headers), Time: m.Time}
}

func fromKafkaHeaders(khs []kafka.Header) []Header {
	if len(khs) == 0 {
		return nil
	}
	hs := make([]Header, len(khs))
	for i, h := range khs {
		hs[i] = Header{Key: h.Key, Value: h.Value}
	}
	return hs
}

// toKafka converts records to write; the headers of all of them share one
// allocation. Topic, Partition and Offset are not carried: the producer
// chooses where a record goes.
func toKafka(recs []Record) []kafka.Message {
	n := 0
	for i := range recs {
		n += len(recs[i].Headers)
	}
	var hs []kafka.Header
	if n > 0 {
		hs = make([]kafka.Header, n)
	}
	out := make([]kafka.Message, len(recs))
	for i := range recs {
		r := &recs[i]
		var h []kafka.Header
		if len(r.Headers) > 0 {
			h = hs[:len(r.Headers):len(r.Headers)]
			hs = hs[len(r.Headers):]
			for j, rh := range r.Headers {
				h[j] = kafka.Header{Key: rh.Key, Value: rh.Value}
			}
		}
		out[i] = kafka.Message{Key: r.Key, Value: r.Value, Headers: h, Time: r.Time}
	}
	return out
}
