package scorer

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
	"github.com/twmb/franz-go/pkg/kfake"
)

// A snapshot whose marker kind is corrupt, or cut short there, is refused
// with what is wrong: never an error ending in "(<nil>)".
func TestSnapshotCorruptMarker(t *testing.T) {
	e := testEngine(t)
	part := &partition{id: 1, engine: e, scorer: scoring.NewScorer(e), contacts: map[string]*scoring.Contact{},
		forgotten: map[string]marker{"9501": {At: 42, Kind: privacy}}, next: 7}
	for _, tc := range []struct {
		name string
		cut  func([]byte) []byte
		want string
	}{
		{"bad kind", func(b []byte) []byte { b[len(b)-1] = 99; return b }, `marker of "9501": bad kind 99`},
		{"cut short", func(b []byte) []byte { return b[:len(b)-1] }, `marker of "9501": EOF`},
	} {
		dir := t.TempDir()
		if err := writeSnapshot(dir, "events", part, 9); err != nil {
			t.Fatal(err)
		}
		path := snapshotPath(dir, "events", 1)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, tc.cut(b), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err = readSnapshot(dir, "events", 1, 7, 9, e)
		if err == nil || !strings.HasSuffix(err.Error(), tc.want) || strings.Contains(err.Error(), "<nil>") {
			t.Errorf("%s: %v; want an error ending in %q", tc.name, err, tc.want)
		}
	}
}

// A co-partitioned topic with the wrong partition count is named with
// both counts and why it matters, without a "(<nil>)" of no error.
func TestSamePartitions(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	ctx := context.Background()
	if err := stream.EnsureTopics(ctx, brokers, stream.Topic{Name: "members", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	if err := samePartitions(ctx, brokers, "members", 2, "the events topic", "x"); err != nil {
		t.Errorf("same count: %v", err)
	}
	err = samePartitions(ctx, brokers, "members", 3, "the events topic", "members would not follow their events")
	if want := "members has 2 partitions, the events topic 3: members would not follow their events"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}
