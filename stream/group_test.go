package stream

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// recorder is a Handler that remembers what it saw and commits each batch
// unless told to stop committing at some offset.
type recorder struct {
	name string

	mu        sync.Mutex
	assigned  map[int]int64 // partition -> Committed at the last assignment
	assigns   map[int]int   // partition -> how many times Assigned ran
	firstSeen map[int]int64 // partition -> first offset handled since the last assignment
	seen      map[string]int
	revoked   int
	// commitBelow, when set, caps the marks: offsets >= it are handled but
	// never committed, as if their effects were not yet durable.
	commitBelow int64
	failNext    bool // the next Handle call fails, as a broken dependency would
}

func newRecorder(name string) *recorder {
	return &recorder{name: name, assigned: map[int]int64{}, assigns: map[int]int{}, firstSeen: map[int]int64{}, seen: map[string]int{}}
}

func (r *recorder) Assigned(_ context.Context, c *Claim) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.assigned[c.Partition] = c.Committed
	r.assigns[c.Partition]++
	delete(r.firstSeen, c.Partition)
	return nil
}

func (r *recorder) Handle(_ context.Context, c *Claim, msgs []Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range msgs {
		if r.failNext {
			return errors.New("simulated failure")
		}
		if _, ok := r.firstSeen[c.Partition]; !ok {
			r.firstSeen[c.Partition] = m.Offset
		}
		r.seen[string(m.Value)]++
		next := m.Offset + 1
		if r.commitBelow > 0 {
			next = min(next, r.commitBelow)
		}
		c.Commit(next)
	}
	return nil
}

func (r *recorder) Revoked(context.Context, *Claim) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.revoked++
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *recorder) has(v string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[v] > 0
}

// member runs a GroupConsumer until stop is called; stop returns Run's error.
type member struct {
	gc     *GroupConsumer
	stop   func() error
	exited chan struct{} // closed when Run returned; err is then its result
	err    error
}

func startMember(t *testing.T, brokers []string, group string, h Handler) *member {
	t.Helper()
	gc, err := NewGroupConsumer(GroupConfig{
		Brokers: brokers, Group: group, Topic: testTopic,
		HeartbeatInterval: 200 * time.Millisecond,
		CommitInterval:    100 * time.Millisecond,
		SessionTimeout:    6 * time.Second,
		RebalanceTimeout:  6 * time.Second,
		MaxWait:           100 * time.Millisecond,
	}, h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{gc: gc, exited: make(chan struct{})}
	go func() {
		m.err = gc.Run(ctx)
		close(m.exited)
	}()
	m.stop = func() error {
		cancel()
		select {
		case <-m.exited:
			return m.err
		case <-time.After(20 * time.Second):
			return errors.New("Run did not return within 20s of cancel")
		}
	}
	t.Cleanup(func() { m.stop() })
	return m
}

func events(from, to int) []Record {
	var msgs []Record
	for i := from; i < to; i++ {
		msgs = append(msgs, Message(fmt.Sprintf("contact-%d", i%50), []byte(fmt.Sprintf("ev-%d", i))))
	}
	return msgs
}

// committedOffsets asks the group coordinator for the group's offsets.
func committedOffsets(t *testing.T, ctx context.Context, brokers []string, group string) map[int]int64 {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	res, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{testTopic: {0, 1, 2, 3, 4, 5}}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int64{}
	for _, p := range res.Topics[testTopic] {
		out[p.Partition] = p.CommittedOffset
	}
	return out
}

func TestGroupMembersSplitPartitionsAndTakeOver(t *testing.T) {
	brokers := newCluster(t)
	ctx := testCtx(t, 50*time.Second)
	produce(t, ctx, brokers, testTopic, events(0, 300)...)

	ra, rb := newRecorder("a"), newRecorder("b")
	a := startMember(t, brokers, "g", ra)
	eventually(t, 15*time.Second, "member a to own all 6 partitions", func() bool { return len(a.gc.Assignment()) == 6 })
	eventually(t, 10*time.Second, "member a to read the first 300 events", func() bool { return ra.count() == 300 })

	b := startMember(t, brokers, "g", rb)
	eventually(t, 15*time.Second, "a and b to own 3 partitions each", func() bool {
		return len(a.gc.Assignment()) == 3 && len(b.gc.Assignment()) == 3
	})
	pa, pb := a.gc.Assignment(), b.gc.Assignment()
	union := map[int]bool{}
	for _, p := range append(pa, pb...) {
		union[p] = true
	}
	if len(union) != 6 {
		t.Fatalf("assignments overlap or miss partitions: a=%v b=%v", pa, pb)
	}
	// b starts where a committed: it receives none of the first 300 events.
	produce(t, ctx, brokers, testTopic, events(300, 600)...)
	eventually(t, 10*time.Second, "the next 300 events to be shared by a and b", func() bool {
		return ra.count()+rb.count() == 600
	})
	if rb.count() == 0 || rb.count() == 300 {
		t.Fatalf("b handled %d of the second 300 events; want a share", rb.count())
	}
	for i := 0; i < 300; i++ {
		if rb.has(fmt.Sprintf("ev-%d", i)) {
			t.Fatalf("b replayed ev-%d that a had committed", i)
		}
	}

	// b leaves: a takes over b's partitions from b's commits.
	ra.mu.Lock()
	before := maps.Clone(ra.assigns)
	ra.mu.Unlock()
	if err := b.stop(); err != nil {
		t.Fatalf("b.Run: %v", err)
	}
	if rb.revoked == 0 {
		t.Fatal("b's partitions were never revoked")
	}
	eventually(t, 15*time.Second, "a to take b's partitions", func() bool {
		ra.mu.Lock()
		defer ra.mu.Unlock()
		for _, p := range pb {
			if ra.assigns[p] == before[p] {
				return false
			}
		}
		return true
	})
	committed := committedOffsets(t, ctx, brokers, "g")
	ra.mu.Lock()
	for _, p := range pb {
		if ra.assigned[p] != committed[p] || committed[p] <= 0 {
			t.Errorf("partition %d: a resumed at %d, group committed %d", p, ra.assigned[p], committed[p])
		}
	}
	ra.mu.Unlock()
	produce(t, ctx, brokers, testTopic, events(600, 900)...)
	eventually(t, 10*time.Second, "a to handle the last 300 events", func() bool {
		for i := 600; i < 900; i++ {
			if !ra.has(fmt.Sprintf("ev-%d", i)) {
				return false
			}
		}
		return true
	})
	for i := 300; i < 600; i++ {
		if ra.has(fmt.Sprintf("ev-%d", i)) && rb.has(fmt.Sprintf("ev-%d", i)) {
			t.Fatalf("ev-%d handled by both a and b after b committed it", i)
		}
	}
	if err := a.stop(); err != nil {
		t.Fatalf("a.Run: %v", err)
	}
	for p, off := range committedOffsets(t, ctx, brokers, "g") {
		if off <= 0 {
			t.Errorf("partition %d committed offset %d after a clean stop", p, off)
		}
	}
}

func TestGroupCommitsOnlyMarksAndReplaysAfterCrash(t *testing.T) {
	brokers := newCluster(t)
	ctx := testCtx(t, 40*time.Second)
	// One key per partition-agnostic batch: 600 events over 50 contacts.
	produce(t, ctx, brokers, testTopic, events(0, 600)...)

	// First run: every event is handled but offsets from 10 on are never
	// marked durable; then a handler failure stops the member.
	r1 := newRecorder("first")
	r1.commitBelow = 10
	m1 := startMember(t, brokers, "crash", r1)
	eventually(t, 20*time.Second, "the first member to handle everything", func() bool { return r1.count() == 600 })
	r1.mu.Lock()
	r1.failNext = true
	r1.mu.Unlock()
	produce(t, ctx, brokers, testTopic, Message("contact-0", []byte("ev-600")))
	select {
	case <-m1.exited:
		if m1.err == nil || !errorsContains(m1.err, "simulated failure") {
			t.Fatalf("Run returned %v, want the handler's error", m1.err)
		}
	case <-ctx.Done():
		t.Fatal("Run did not return after the handler failed")
	}
	committed := committedOffsets(t, ctx, brokers, "crash")
	for p, off := range committed {
		if off != 10 {
			t.Errorf("partition %d committed %d, want exactly the mark 10", p, off)
		}
	}

	// Second run replays every partition from the last commit.
	r2 := newRecorder("second")
	m2 := startMember(t, brokers, "crash", r2)
	eventually(t, 20*time.Second, "the second member to read the rest", func() bool { return r2.count() == 601-6*10 })
	if err := m2.stop(); err != nil {
		t.Fatal(err)
	}
	for p := 0; p < testPartitions; p++ {
		if r2.assigned[p] != 10 || r2.firstSeen[p] != 10 {
			t.Errorf("partition %d: assigned at %d, first offset %d; want 10 and 10", p, r2.assigned[p], r2.firstSeen[p])
		}
	}
}

func TestStartAtOverridesCommittedOffset(t *testing.T) {
	brokers := newCluster(t)
	ctx := testCtx(t, 30*time.Second)
	produce(t, ctx, brokers, testTopic, events(0, 120)...)
	h := &startAt{recorder: newRecorder("s"), at: 5}
	m := startMember(t, brokers, "start-at", h)
	total := 0
	for p, end := range endOffsets(t, ctx, brokers) {
		_ = p
		total += int(max(0, end-5))
	}
	eventually(t, 20*time.Second, "messages from offset 5", func() bool { return h.count() == total })
	if err := m.stop(); err != nil {
		t.Fatal(err)
	}
	for p, first := range h.firstSeen {
		if first != 5 {
			t.Errorf("partition %d started at %d, want 5", p, first)
		}
	}
}

type startAt struct {
	*recorder
	at int64
}

func (s *startAt) Assigned(ctx context.Context, c *Claim) error {
	c.StartAt(s.at)
	return s.recorder.Assigned(ctx, c)
}

func endOffsets(t *testing.T, ctx context.Context, brokers []string) map[int]int64 {
	t.Helper()
	out := map[int]int64{}
	for p := 0; p < testPartitions; p++ {
		conn, err := kafka.DialLeader(ctx, "tcp", brokers[0], testTopic, p)
		if err != nil {
			t.Fatal(err)
		}
		end, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[p] = end
	}
	return out
}

func errorsContains(err error, s string) bool {
	return err != nil && len(s) > 0 && contains(err.Error(), s)
}

func contains(h, n string) bool {
	for i := 0; i+len(n) <= len(h); i++ {
		if h[i:i+len(n)] == n {
			return true
		}
	}
	return false
}

func TestGroupConfigValidation(t *testing.T) {
	_, err := NewGroupConsumer(GroupConfig{StartOffset: 42}, newRecorder("x"))
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"no brokers", "no group", "no topic", "start offset"} {
		if !contains(err.Error(), want) {
			t.Errorf("error %q does not report %q", err, want)
		}
	}
}

// asyncFailer hands each batch's effect to the background and, once
// told to, fails one there: after Handle returned. Each effect waits for
// the word until its claim's generation ends, not for a fixed time: with
// a 50 ms wait, a test goroutine descheduled that long under load after
// producing the last message would leave the error unread, and Run would
// not return.
type asyncFailer struct {
	*recorder
	failAsync chan error
}

func (a *asyncFailer) Handle(ctx context.Context, c *Claim, msgs []Record) error {
	if err := a.recorder.Handle(ctx, c, msgs); err != nil {
		return err
	}
	go func() {
		select {
		case err := <-a.failAsync:
			c.Fail(err)
		case <-c.Done():
		}
	}()
	return nil
}

// An effect that fails after Handle returned stops the consumer with its
// error, as a failing Handle does, though no message follows.
func TestClaimFailStopsTheConsumer(t *testing.T) {
	brokers := newCluster(t)
	ctx := testCtx(t, 40*time.Second)
	a := &asyncFailer{recorder: newRecorder("a"), failAsync: make(chan error, 1)}
	m := startMember(t, brokers, "fail-async", a)
	produce(t, ctx, brokers, testTopic, events(0, 60)...)
	eventually(t, 20*time.Second, "everything handled", func() bool { return a.count() == 60 })
	produce(t, ctx, brokers, testTopic, Message("contact-0", []byte("ev-60")))
	a.failAsync <- errors.New("background write refused")
	select {
	case <-m.exited:
		if m.err == nil || !errorsContains(m.err, "background write refused") {
			t.Fatalf("Run returned %v, want the failed effect's error", m.err)
		}
	case <-ctx.Done():
		t.Fatal("Run did not return after Claim.Fail")
	}
}

// Lag is the committed lag: while a handler reads messages but cannot make
// them durable (ClickHouse down, say), it grows with what arrives, and it
// returns to 0 once the marks are committed.
func TestLagIsTheCommittedLag(t *testing.T) {
	brokers := newCluster(t)
	ctx := testCtx(t, 40*time.Second)
	r := newRecorder("lag")
	r.commitBelow = 1 // nothing past offset 1 becomes durable
	m := startMember(t, brokers, "lag", r)
	eventually(t, 20*time.Second, "partitions assigned", func() bool { return len(m.gc.Assignment()) == testPartitions })
	produce(t, ctx, brokers, testTopic, events(0, 300)...)
	eventually(t, 20*time.Second, "everything handled", func() bool { return r.count() == 300 })
	// Each partition committed offset 1 of its messages.
	eventually(t, 10*time.Second, "the lag to count every message not committed", func() bool {
		return m.gc.Lag() == 300-testPartitions
	})
	r.mu.Lock()
	r.commitBelow = 0
	r.mu.Unlock()
	produce(t, ctx, brokers, testTopic, events(300, 350)...) // every contact, so every partition
	eventually(t, 10*time.Second, "the lag to drop to 0 once committed", func() bool { return m.gc.Lag() == 0 })
}
