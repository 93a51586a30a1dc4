package ingest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/scorebridge/scorebridge/stream"
)

// Lines sends every non-empty line as it is (line ends cut), keyed by its
// contact_id; lines without one go with an empty key and are counted; a
// rate paces the writes; a refused write names its line.
func TestLines(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "events", "paced"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in := `{"id":"e1","contact_id":"c-1","type":"email_opened"}` + "\r\n" +
		"\n" +
		`{"id":"e2","type":"email_opened"}` + "\n" +
		`{"id":"broken"` + "\n" +
		`{"id":"e3","contact_id":"c-2","type":"form_submitted"}` + "\n" +
		`{"id":"e4","contact_id":"c-1","type":"meeting_booked"}` // no final newline
	read := func(topic string) map[string][]string {
		got := map[string][]string{}
		if _, err := stream.ReadTopic(ctx, brokers, topic, func(m stream.Record) error {
			got[string(m.Key)] = append(got[string(m.Key)], string(m.Value))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, c := range []struct {
		topic  string
		perSec float64
	}{{"events", 0}, {"paced", 20}} {
		p, err := stream.NewProducer(stream.ProducerConfig{Brokers: brokers, Topic: c.topic})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		start := time.Now()
		sum, err := Lines(ctx, strings.NewReader(in), p, c.perSec)
		if err != nil || sum != (LinesSummary{Sent: 5, Unkeyed: 2}) {
			t.Fatalf("%s: %+v, %v; want 5 sent, 2 unkeyed", c.topic, sum, err)
		}
		if took := time.Since(start); c.perSec > 0 && took < 150*time.Millisecond {
			t.Errorf("%s: 5 lines at %v/s (burst 1) took %v", c.topic, c.perSec, took)
		}
		got := read(c.topic)
		want := map[string][]string{
			"c-1": {`{"id":"e1","contact_id":"c-1","type":"email_opened"}`, `{"id":"e4","contact_id":"c-1","type":"meeting_booked"}`},
			"c-2": {`{"id":"e3","contact_id":"c-2","type":"form_submitted"}`},
			"":    {`{"id":"e2","type":"email_opened"}`, `{"id":"broken"`},
		}
		if len(got) != len(want) {
			t.Errorf("%s: keys %v, want %v", c.topic, got, want)
		}
		for k, vs := range want {
			if strings.Join(got[k], "\n") != strings.Join(vs, "\n") {
				t.Errorf("%s: key %q: %q, want %q", c.topic, k, got[k], vs)
			}
		}
	}
	if _, err := Lines(ctx, strings.NewReader(in), failing{}, 20); !errors.Is(err, errRefused) || !strings.HasPrefix(err.Error(), "line 1: ") {
		t.Errorf("a refused write: %v, want it named at line 1", err)
	}
}
