package stream

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// testTopic is seeded with testPartitions partitions in every test cluster.
const (
	testTopic      = "t"
	testPartitions = 6
)

// newCluster starts an in-process three-broker kfake cluster on loopback.
func newCluster(t *testing.T) []string {
	t.Helper()
	c, err := kfake.NewCluster(
		kfake.NumBrokers(3),
		kfake.SeedTopics(testPartitions, testTopic),
		kfake.AllowAutoTopicCreation(),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func produce(t *testing.T, ctx context.Context, brokers []string, topic string, msgs ...Record) {
	t.Helper()
	p, err := NewProducer(ProducerConfig{Brokers: brokers, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Write(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

// readAll reads every message of a topic's partitions up to their current end.
func readAll(t *testing.T, ctx context.Context, brokers []string, topic string, partitions int) []Record {
	t.Helper()
	var out []Record
	for p := 0; p < partitions; p++ {
		conn, err := kafka.DialLeader(ctx, "tcp", brokers[0], topic, p)
		if err != nil {
			t.Fatal(err)
		}
		end, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if end == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fromKafkaOne(m))
			if m.Offset+1 >= end {
				break
			}
		}
		r.Close()
	}
	return out
}

func TestEnsureTopicsCreatesAndWaits(t *testing.T) {
	brokers := newCluster(t)
	ctx := testCtx(t, 20*time.Second)
	topics := []Topic{{Name: "events", Partitions: 4}, {Name: "state-changelog", Partitions: 4, Compacted: true}}
	if err := EnsureTopics(ctx, brokers, topics...); err != nil {
		t.Fatal(err)
	}
	// Twice is fine: existing topics are left alone.
	if err := EnsureTopics(ctx, brokers, topics...); err != nil {
		t.Fatalf("second EnsureTopics: %v", err)
	}
	for _, tp := range topics {
		n, err := Partitions(ctx, brokers, tp.Name)
		if err != nil || n != 4 {
			t.Fatalf("Partitions(%s) = %d, %v; want 4", tp.Name, n, err)
		}
	}
	// A producer created right after writes without "unknown topic".
	produce(t, ctx, brokers, "events", Message("c1", []byte("x")))

	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	res, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: "state-changelog", ConfigNames: []string{"cleanup.policy"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	var policy string
	for _, r := range res.Resources {
		for _, e := range r.ConfigEntries {
			if e.ConfigName == "cleanup.policy" {
				policy = e.ConfigValue
			}
		}
	}
	if policy != "compact" {
		t.Fatalf("cleanup.policy = %q, want compact", policy)
	}
}

func TestParseTopics(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []Topic
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "a", want: []Topic{{Name: "a"}}},
		{in: "a:3, b", want: []Topic{{Name: "a", Partitions: 3}, {Name: "b"}}},
		{in: "a:x", wantErr: true},
		{in: "a:0", wantErr: true},
	} {
		got, err := ParseTopics(tc.in)
		if (err != nil) != tc.wantErr {
			t.Fatalf("ParseTopics(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Fatalf("ParseTopics(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestProducerKeepsAContactInOnePartition(t *testing.T) {
	brokers := newCluster(t)
	ctx := testCtx(t, 20*time.Second)
	var msgs []Record
	for i := 0; i < 200; i++ {
		msgs = append(msgs, Message(fmt.Sprintf("contact-%d", i%20), []byte(fmt.Sprintf(`{"n":%d}`, i)), "source", "test"))
	}
	produce(t, ctx, brokers, testTopic, msgs...)
	got := readAll(t, ctx, brokers, testTopic, testPartitions)
	if len(got) != len(msgs) {
		t.Fatalf("read %d messages, want %d", len(got), len(msgs))
	}
	partOf := map[string]int{}
	used := map[int]bool{}
	lastN := map[string]int{}
	for _, m := range got {
		k := string(m.Key)
		if p, ok := partOf[k]; ok && p != m.Partition {
			t.Fatalf("key %s in partitions %d and %d", k, p, m.Partition)
		}
		partOf[k] = m.Partition
		used[m.Partition] = true
		if v, _ := m.Header("source"); v != "test" {
			t.Fatalf("header source = %q", v)
		}
		var n int
		fmt.Sscanf(string(m.Value), `{"n":%d}`, &n)
		if prev, ok := lastN[k]; ok && n < prev {
			t.Fatalf("key %s out of order: %d after %d", k, n, prev)
		}
		lastN[k] = n
	}
	if len(used) < 3 {
		t.Fatalf("20 keys landed in only %d partitions", len(used))
	}
}

// WritePartition puts every message in the partition it names, in order,
// across as many requests as their size needs, tombstones and headers
// intact.
func TestWritePartition(t *testing.T) {
	brokers := newCluster(t)
	ctx := testCtx(t, 20*time.Second)
	p, err := NewProducer(ProducerConfig{Brokers: brokers, Topic: testTopic})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	value := bytes.Repeat([]byte("v"), 1000)
	var msgs []Record
	for i := 0; i < 2500; i++ { // 2.5 MB: three requests
		msgs = append(msgs, Message(fmt.Sprintf("contact-%d", i), append([]byte(fmt.Sprintf("%06d", i)), value...), "n", fmt.Sprint(i)))
	}
	msgs = append(msgs, Record{Key: []byte("gone")})
	if err := p.WritePartition(ctx, 4, msgs...); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, ctx, brokers, testTopic, testPartitions)
	if len(got) != len(msgs) {
		t.Fatalf("read %d messages, want %d", len(got), len(msgs))
	}
	for i, m := range got {
		if m.Partition != 4 || string(m.Key) != string(msgs[i].Key) || !bytes.Equal(m.Value, msgs[i].Value) {
			t.Fatalf("message %d: partition %d key %q value %.10q, want partition 4 key %q", i, m.Partition, m.Key, m.Value, msgs[i].Key)
		}
		if n, _ := m.Header("n"); i < 2500 && n != fmt.Sprint(i) {
			t.Fatalf("message %d: header n = %q", i, n)
		}
	}
	if got[2500].Value != nil {
		t.Fatalf("tombstone read back as %q", got[2500].Value)
	}
}

// A partition whose leader moved between two writes: the second write
// learns of the move and retries, losing nothing.
func TestWritePartitionFollowsALeaderMove(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(testPartitions, testTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := testCtx(t, 30*time.Second)
	p, err := NewProducer(ProducerConfig{Brokers: c.ListenAddrs(), Topic: testTopic})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var want []string
	write := func(from int) {
		var msgs []Record
		for i := from; i < from+50; i++ {
			want = append(want, fmt.Sprint(i))
			msgs = append(msgs, Message(fmt.Sprintf("k%d", i), []byte(fmt.Sprint(i))))
		}
		if err := p.WritePartition(ctx, 2, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	write(0)
	leader := c.LeaderFor(testTopic, 2)
	if err := c.MoveTopicPartition(testTopic, 2, (leader+1)%3); err != nil {
		t.Fatal(err)
	}
	write(50)
	var got []string
	for _, m := range readAll(t, ctx, c.ListenAddrs(), testTopic, testPartitions) {
		got = append(got, string(m.Value))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read %v, wrote %v", got, want)
	}
}

func TestAsyncProducerDelivers(t *testing.T) {
	brokers := newCluster(t)
	ctx := testCtx(t, 20*time.Second)
	p, err := NewProducer(ProducerConfig{Brokers: brokers, Topic: testTopic, Async: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		if err := p.Write(ctx, Message(fmt.Sprint(i), []byte("v"))); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if p.Failed() != 0 {
		t.Fatalf("%d messages failed", p.Failed())
	}
	if got := readAll(t, ctx, brokers, testTopic, testPartitions); len(got) != 1000 {
		t.Fatalf("read %d messages after Close, want 1000", len(got))
	}
}

func TestDeadLetterKeepsBytesAndSaysWhy(t *testing.T) {
	brokers := newCluster(t)
	ctx := testCtx(t, 20*time.Second)
	if err := EnsureTopics(ctx, brokers, Topic{Name: "dlq", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	raw := []byte("{\"id\": \xff\xfe not json\x00")
	produce(t, ctx, brokers, testTopic, Message("c-9", raw, "trace", "abc"))
	orig := readAll(t, ctx, brokers, testTopic, testPartitions)
	if len(orig) != 1 {
		t.Fatalf("want 1 source message, got %d", len(orig))
	}
	dlq, err := NewProducer(ProducerConfig{Brokers: brokers, Topic: "dlq"})
	if err != nil {
		t.Fatal(err)
	}
	defer dlq.Close()
	if err := SendDeadLetter(ctx, dlq, orig[0], "malformed JSON: invalid character"); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, ctx, brokers, "dlq", 1)
	if len(got) != 1 {
		t.Fatalf("want 1 dead letter, got %d", len(got))
	}
	d := got[0]
	if !bytes.Equal(d.Value, raw) || string(d.Key) != "c-9" {
		t.Fatalf("dead letter key %q value %q; want the original bytes", d.Key, d.Value)
	}
	want := map[string]string{
		"trace":              "abc",
		HeaderDLQReason:      "malformed JSON: invalid character",
		HeaderDLQSourceTopic: testTopic,
		HeaderDLQPartition:   fmt.Sprint(orig[0].Partition),
		HeaderDLQOffset:      fmt.Sprint(orig[0].Offset),
	}
	for k, v := range want {
		if got, _ := d.Header(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
}

func TestWriteAsyncReportsOnceWhenAllAcked(t *testing.T) {
	brokers := newCluster(t)
	ctx := testCtx(t, 20*time.Second)
	p, err := NewProducer(ProducerConfig{Brokers: brokers, Topic: testTopic, Async: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	done := make(chan error, 2)
	if err := p.WriteAsync(ctx, func(err error) { done <- err }, events(0, 300)...); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("done never called")
	}
	// Acknowledged means readable.
	if got := readAll(t, ctx, brokers, testTopic, testPartitions); len(got) != 300 {
		t.Fatalf("read %d messages after done, want 300", len(got))
	}
	select {
	case <-done:
		t.Fatal("done called twice")
	default:
	}

	sync, err := NewProducer(ProducerConfig{Brokers: brokers, Topic: testTopic})
	if err != nil {
		t.Fatal(err)
	}
	defer sync.Close()
	if err := sync.WriteAsync(ctx, func(error) {}, events(0, 1)...); err == nil {
		t.Fatal("WriteAsync on a sync producer: want an error")
	}
}

func TestTrackCommitsInOrder(t *testing.T) {
	c := &Claim{Topic: "t", Partition: 1}
	c.mark.Store(-1)
	if err := c.WaitTracked(context.Background()); err != nil {
		t.Fatalf("nothing tracked: %v", err)
	}
	first, second, third := c.Track(10), c.Track(20), c.Track(30)
	second()
	if c.Marked() != -1 {
		t.Fatalf("marked %d before the first batch was done", c.Marked())
	}
	first()
	if c.Marked() != 20 {
		t.Fatalf("marked %d, want 20 once the first two are done", c.Marked())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := c.WaitTracked(ctx); err == nil {
		t.Fatal("WaitTracked returned while a batch was in flight")
	}
	waited := make(chan error, 1)
	go func() { waited <- c.WaitTracked(context.Background()) }()
	third()
	if err := <-waited; err != nil || c.Marked() != 30 {
		t.Fatalf("after the last batch: err %v, marked %d", err, c.Marked())
	}
}
