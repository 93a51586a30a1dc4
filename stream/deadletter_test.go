package stream

import (
	"bytes"
	"strconv"
	"testing"
)

func TestDeadLetterBounded(t *testing.T) {
	src := Record{Topic: "events", Partition: 3, Offset: 77, Key: []byte("c-1"),
		Headers: []Header{{Key: "trace", Value: []byte("t-1")}}}
	for _, tc := range []struct {
		name   string
		value  int
		whole  bool
		prefix int
	}{
		{"small copied whole", 2_000, true, 2_000},
		{"just under the bound", MaxDeadLetterBytes - 2_000, true, MaxDeadLetterBytes - 2_000},
		{"near 1 MB", 1_040_000, false, DeadLetterPrefixBytes},
		{"5 MB", 5_000_000, false, DeadLetterPrefixBytes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := src
			m.Value = bytes.Repeat([]byte("x"), tc.value)
			d := DeadLetter(m, "bad")
			if len(d.Value) != tc.prefix || !bytes.Equal(d.Value, m.Value[:tc.prefix]) {
				t.Errorf("value %d bytes, want the first %d", len(d.Value), tc.prefix)
			}
			cut, truncated := d.Header(HeaderDLQTruncated)
			if truncated == tc.whole || (!tc.whole && cut != strconv.Itoa(tc.value)) {
				t.Errorf("dlq-truncated %q (present %v)", cut, truncated)
			}
			if recordSize(d.Key, d.Value, d.Headers) > MaxDeadLetterBytes {
				t.Errorf("dead letter of %d bytes, over %d", recordSize(d.Key, d.Value, d.Headers), MaxDeadLetterBytes)
			}
			for name, want := range map[string]string{HeaderDLQReason: "bad", HeaderDLQSourceTopic: "events", HeaderDLQPartition: "3", HeaderDLQOffset: "77", "trace": "t-1"} {
				if got, _ := d.Header(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			s := StripDeadLetter(d)
			if s.Value != nil || string(s.Key) != "c-1" {
				t.Errorf("stripped: value %d bytes, key %q", len(s.Value), s.Key)
			}
			if got, _ := s.Header(HeaderDLQTruncated); got != strconv.Itoa(len(d.Value)) && got != strconv.Itoa(tc.value) {
				t.Errorf("stripped dlq-truncated %q", got)
			}
		})
	}
}
