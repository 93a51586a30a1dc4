package kafkabench

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/stream"
	"github.com/twmb/franz-go/pkg/kfake"
)

func cluster(t *testing.T) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func TestRunMeasuresEveryRow(t *testing.T) {
	brokers := cluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	rep, err := Run(ctx, Config{Brokers: brokers, Events: 3000, Partitions: 3, Pipeline: PassThrough(), PipelineName: "pass-through",
		More: []NamedPipeline{{"pass-through again", PassThrough()}}, Rounds: 2, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{rowGenerate, rowProduce, rowKafkaGo, rowGroupCons, rowKgo, "pass-through", "pass-through again"}
	if len(rep.Rows) != len(want) {
		t.Fatalf("rows %v, want %v", rep.Rows, want)
	}
	for i, row := range rep.Rows {
		rounds := 2
		if i < 2 {
			rounds = 1 // generate and produce run once
		}
		if row.Name != want[i] || row.Messages != 3000 || row.Rate() <= 0 || len(row.Runs) != rounds {
			t.Errorf("row %d = %+v, want %s with 3000 messages", i, row, want[i])
		}
	}
	var out bytes.Buffer
	rep.Print(&out)
	if !strings.Contains(out.String(), "x "+rowKafkaGo) {
		t.Errorf("report has no ratios:\n%s", out.String())
	}
	// The second pipeline is compared with the first, the first with nothing.
	for _, line := range strings.Split(out.String(), "\n") {
		again := strings.Contains(line, "pass-through again")
		if strings.Contains(line, "x pass-through") != again {
			t.Errorf("line %q: a ratio to the first pipeline only on the second one's row", line)
		}
	}
}

func TestRunLatencyMatchesDownstream(t *testing.T) {
	brokers := cluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	rep, err := RunLatency(ctx, LatencyConfig{Brokers: brokers, Rate: 500, Duration: time.Second, Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent < 400 || rep.Matched != rep.Sent {
		t.Fatalf("sent %d, matched %d: want every pass-through event matched", rep.Sent, rep.Matched)
	}
	if rep.Visible.P50 <= 0 || rep.Visible.P99 < rep.Visible.P50 {
		t.Fatalf("percentiles %+v", rep.Visible)
	}
}

func TestPercentiles(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	p := percentiles(d)
	if p.P50 != 51*time.Millisecond || p.P99 != 100*time.Millisecond || p.Max != 100*time.Millisecond {
		t.Fatalf("%+v", p)
	}
}

// The bench deletes its topics and those a pipeline named after them.
func TestDeleteTopicsTakesThePipelines(t *testing.T) {
	brokers := cluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var topics []stream.Topic
	for _, name := range []string{"out-1", "out-1-state", "out-1-dlq", "out-10-state", "out-1x"} {
		topics = append(topics, stream.Topic{Name: name, Partitions: 1})
	}
	if err := stream.EnsureTopics(ctx, brokers, topics...); err != nil {
		t.Fatal(err)
	}
	deleteTopics(brokers, "out-1")
	admin := stream.NewAdmin(brokers)
	defer admin.Close()
	left, err := admin.Topics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"out-10-state", "out-1x"}; !slices.Equal(left, want) {
		t.Fatalf("topics left %v, want %v", left, want)
	}
}
