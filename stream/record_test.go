package stream

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// Records cross the boundary both ways intact, and the headers of one
// batch, sharing an allocation, stay each record's own: appending to one
// record's headers must not overwrite the next record's.
func TestRecordConversion(t *testing.T) {
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	in := []kafka.Message{
		{Topic: "events", Partition: 2, Offset: 7, Key: []byte("a"), Value: []byte("1"), Time: at,
			Headers: []kafka.Header{{Key: "h1", Value: []byte("x")}, {Key: "h2", Value: []byte("y")}}},
		{Topic: "events", Partition: 2, Offset: 8, Key: []byte("b"), Time: at},
		{Topic: "events", Partition: 2, Offset: 9, Key: []byte("c"), Value: []byte("3"),
			Headers: []kafka.Header{{Key: "h3", Value: []byte("z")}}},
	}
	recs := fromKafka(in)
	want := []Record{
		{Topic: "events", Partition: 2, Offset: 7, Key: []byte("a"), Value: []byte("1"), Time: at,
			Headers: []Header{{Key: "h1", Value: []byte("x")}, {Key: "h2", Value: []byte("y")}}},
		{Topic: "events", Partition: 2, Offset: 8, Key: []byte("b"), Time: at},
		{Topic: "events", Partition: 2, Offset: 9, Key: []byte("c"), Value: []byte("3"),
			Headers: []Header{{Key: "h3", Value: []byte("z")}}},
	}
	if !reflect.DeepEqual(recs, want) {
		t.Fatalf("fromKafka = %+v\nwant %+v", recs, want)
	}
	if one := fromKafkaOne(in[0]); !reflect.DeepEqual(one, want[0]) {
		t.Fatalf("fromKafkaOne = %+v, want %+v", one, want[0])
	}
	recs[0].Headers = append(recs[0].Headers, Header{Key: "added"})
	if v, _ := recs[2].Header("h3"); v != "z" {
		t.Fatalf("appending to record 0's headers changed record 2's: %+v", recs[2].Headers)
	}

	out := toKafka(want)
	for i, m := range out {
		if m.Topic != "" || m.Partition != 0 || m.Offset != 0 {
			t.Errorf("message %d carries where it came from (%s/%d@%d): the producer decides", i, m.Topic, m.Partition, m.Offset)
		}
		if string(m.Key) != string(want[i].Key) || string(m.Value) != string(want[i].Value) || !m.Time.Equal(want[i].Time) {
			t.Errorf("message %d = %+v, want %+v", i, m, want[i])
		}
		if got := fromKafkaHeaders(m.Headers); !reflect.DeepEqual(got, want[i].Headers) {
			t.Errorf("message %d headers = %+v, want %+v", i, got, want[i].Headers)
		}
	}
	out[0].Headers = append(out[0].Headers, kafka.Header{Key: "added"})
	if string(out[2].Headers[0].Value) != "z" {
		t.Fatalf("appending to message 0's headers changed message 2's: %+v", out[2].Headers)
	}
}

func TestProducerConfigRefused(t *testing.T) {
	for _, tc := range []struct {
		cfg  ProducerConfig
		want string
	}{
		{ProducerConfig{Brokers: []string{"x:1"}, Topic: "t", Compression: "brotli"}, `unknown compression "brotli"`},
		{ProducerConfig{Brokers: []string{"x:1"}, Topic: "t", Partitioner: 7}, "unknown partitioner 7"},
	} {
		if _, err := NewProducer(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewProducer(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
