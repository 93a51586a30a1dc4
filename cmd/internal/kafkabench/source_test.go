package kafkabench

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
)

func TestSyntheticEventsDecodeAndRepeat(t *testing.T) {
	collect := func() [][]byte {
		var out [][]byte
		err := SyntheticEvents(7, 100)(500, func(key string, v []byte) error {
			ev, err := events.Decode(v)
			if err != nil {
				t.Fatalf("event does not decode: %v\n%s", err, v)
			}
			if ev.ContactID != key {
				t.Fatalf("key %q but contact_id %q", key, ev.ContactID)
			}
			out = append(out, v)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	a, b := collect(), collect()
	if len(a) != 500 {
		t.Fatalf("got %d events, want 500", len(a))
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("event %d differs between runs with the same seed", i)
		}
	}
}

func TestEventSourceStopsAtN(t *testing.T) {
	gen := func(emit func(*events.Event) error) error {
		for i := 0; ; i++ {
			ev := &events.Event{ID: fmt.Sprint("e", i), Type: "page_viewed", ContactID: fmt.Sprint("c", i%3), OccurredAt: time.Unix(int64(i), 0).UTC()}
			if err := emit(ev); err != nil {
				return err
			}
		}
	}
	var keys []string
	err := EventSource(gen)(5, func(key string, v []byte) error {
		if _, err := events.Decode(v); err != nil {
			t.Fatalf("%v: %s", err, v)
		}
		keys = append(keys, key)
		return nil
	})
	if err != nil || len(keys) != 5 || keys[4] != "c1" {
		t.Fatalf("err %v, keys %v", err, keys)
	}
}
