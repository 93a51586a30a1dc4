package kafkabench

import (
	"bytes"
	"testing"

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
