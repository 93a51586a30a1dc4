package scorer

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/internal/syncbuf"
	"github.com/scorebridge/scorebridge/stream"
	"github.com/scorebridge/scorebridge/synth"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Scale-out and partition moves: several instances of the processor in
// one group, over a kfake cluster on loopback TCP, checked against the
// backtest of the same history (see processor_test.go for the helpers).

// prepare is setup without producing: the test decides when the events
// arrive relative to joins, rebalances and stops.
func prepare(t *testing.T, contacts int) (*env, []stream.Record) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	e := &env{brokers: c.ListenAddrs()}
	err = stream.EnsureTopics(ctxFor(t, 30*time.Second), e.brokers,
		stream.Topic{Name: "events", Partitions: partitions},
		stream.Topic{Name: "crossings", Partitions: partitions},
		stream.Topic{Name: "dlq", Partitions: 1},
		stream.Topic{Name: "states", Partitions: partitions, Compacted: true},
		stream.Topic{Name: "lead-scores", Partitions: partitions, Compacted: true},
	)
	if err != nil {
		t.Fatal(err)
	}
	e.engine = testEngine(t)
	cfg := synth.Default()
	cfg.Contacts, cfg.Days, cfg.DuplicateRate = contacts, 30, 0.02
	var msgs []stream.Record
	var buf bytes.Buffer
	synth.Generate(cfg, func(ev *events.Event) error {
		data, _ := json.Marshal(ev)
		e.events = append(e.events, *ev)
		buf.Write(append(data, '\n'))
		msgs = append(msgs, stream.Message(ev.ContactID, data))
		return nil
	})
	// Two malformed messages: checkAgainstBacktest expects them on the
	// dead-letter topic.
	msgs = append(msgs[:10], append([]stream.Record{
		stream.Message("c-000001", []byte(`{"id":"broken"`)),
		stream.Message("c-000002", []byte(`{"id":"x","type":"email_opened","contact_id":"c-000003","occurred_at":"2026-10-01T00:00:00Z"}`)),
	}, msgs[10:]...)...)
	e.raw = buf.Bytes()
	return e, msgs
}

func (e *env) produce(t *testing.T, msgs []stream.Record) {
	t.Helper()
	p := producer(t, e.brokers, "events")
	if err := p.Write(ctxFor(t, 30*time.Second), msgs...); err != nil {
		t.Fatal(err)
	}
}

// logBuffer collects an instance's log lines; zerolog writes from the
// partition goroutines.
type logBuffer struct{ syncbuf.Buffer }

// count reports how many log lines carry exactly this message.
func (l *logBuffer) count(msg string) int {
	return strings.Count(l.String(), `"message":"`+msg+`"`)
}

// instance is one scorer in the group: a processor, its consumer, and
// what it handled.
type instance struct {
	*Processor
	name   string
	g      *stream.GroupConsumer
	log    *logBuffer
	cancel context.CancelFunc
	done   chan error

	mu      sync.Mutex
	handled map[int]int // partition -> messages handled
}

// Handle counts what this instance scored, per partition.
func (in *instance) Handle(ctx context.Context, c *stream.Claim, msgs []stream.Record) error {
	in.mu.Lock()
	in.handled[c.Partition] += len(msgs)
	in.mu.Unlock()
	return in.Processor.Handle(ctx, c, msgs)
}

// restored is how many partitions the instance restored, from a
// snapshot or from the changelog (a partition kept in memory across a
// rebalance logs neither).
func (in *instance) restored() int {
	return in.log.count("restored partition state") + in.log.count("restored partition state from the local snapshot")
}

func (in *instance) handledPartitions() []int {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []int
	for p, n := range in.handled {
		if n > 0 {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// start runs an instance in the group "scorer"; stateDir "" keeps no
// snapshots.
func (e *env) start(t *testing.T, name, stateDir string) *instance {
	t.Helper()
	return e.startWith(t, name, stateDir, nil)
}

// startWith is start with a fault hook (Config.fault) on the durable steps.
func (e *env) startWith(t *testing.T, name, stateDir string, fault func(string) error) *instance {
	t.Helper()
	in := &instance{name: name, log: &logBuffer{}, done: make(chan error, 1), handled: map[int]int{}}
	in.Processor = NewProcessor(Config{
		Brokers: e.brokers, Changelog: "states", Topic: "events", StateDir: stateDir,
		Crossings:   producer(t, e.brokers, "crossings"),
		DeadLetters: producer(t, e.brokers, "dlq"),
		States:      producer(t, e.brokers, "states"),
		Partitions:  partitions,
		Forward:     producer(t, e.brokers, "events"),
		Log:         zerolog.New(in.log),
		fault:       fault,
	}, e.engine)
	in.g = e.consumer(t, in)
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	go func() { in.done <- in.g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-in.done:
		case <-time.After(20 * time.Second):
		}
	})
	return in
}

// stop is a graceful stop: revoke (snapshots), commit, leave the group.
func (in *instance) stop(t *testing.T) {
	t.Helper()
	in.cancel()
	select {
	case err := <-in.done:
		if err != nil {
			t.Fatalf("instance %s: %v", in.name, err)
		}
		in.done <- nil // for the cleanup
	case <-time.After(20 * time.Second):
		t.Fatalf("instance %s did not stop within 20 s", in.name)
	}
}

// waitFor polls cond until it holds; a consumer that stops meanwhile
// fails the test.
func waitFor(t *testing.T, what string, cond func() (bool, error), ins ...*instance) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) {
		ok, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		for _, in := range ins {
			select {
			case err := <-in.done:
				t.Fatalf("waiting for %s: instance %s stopped: %v", what, in.name, err)
			default:
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// split holds when the instances own disjoint, non-empty sets of
// partitions that together are all of them.
func split(ins ...*instance) (bool, error) {
	seen := map[int]bool{}
	for _, in := range ins {
		a := in.g.Assignment()
		if len(a) == 0 {
			return false, nil
		}
		for _, p := range a {
			if seen[p] {
				return false, nil
			}
			seen[p] = true
		}
	}
	return len(seen) == partitions, nil
}

func (e *env) done(t *testing.T) func() (bool, error) {
	ctx := ctxFor(t, time.Minute)
	return func() (bool, error) { return e.committedAll(ctx) }
}

// checkServing asks the running instances for every contact's scores:
// exactly one must hold each contact, with the backtest's scores.
func checkServing(t *testing.T, want map[string]float64, ins ...*instance) {
	t.Helper()
	contacts := map[string]bool{}
	for k := range want {
		id, _, _ := strings.Cut(k, "/")
		contacts[id] = true
	}
	bad := 0
	for id := range contacts {
		holders := 0
		for _, in := range ins {
			lines, _, ok := in.ScoreOf(id, time.Time{})
			if !ok {
				continue
			}
			holders++
			for _, l := range lines {
				if w := want[id+"/"+l.Model]; l.Score != w && bad < 10 {
					bad++
					t.Errorf("instance %s: %s/%s: score %v, backtest %v", in.name, id, l.Model, l.Score, w)
				}
			}
		}
		if holders != 1 && bad < 10 {
			bad++
			t.Errorf("contact %s held by %d instances, want 1", id, holders)
		}
	}
	if len(contacts) == 0 {
		t.Fatal("no contacts: the check would check nothing")
	}
}

// Two instances in one group split the partitions, each scores only its
// own, each contact is served by exactly one of them, and the changelog
// they leave equals the backtest.
func TestScaleOutTwoInstancesSplitPartitions(t *testing.T) {
	e, msgs := prepare(t, 120)
	a := e.start(t, "a", "")
	b := e.start(t, "b", "")
	waitFor(t, "a split of the partitions", func() (bool, error) { return split(a, b) }, a, b)
	pa, pb := a.g.Assignment(), b.g.Assignment()
	t.Logf("a owns %v, b owns %v", pa, pb)
	e.produce(t, msgs)
	waitFor(t, "every partition committed", e.done(t), a, b)
	if got := a.g.Assignment(); !slices.Equal(got, pa) {
		t.Fatalf("a's assignment moved from %v to %v with no member joining or leaving", pa, got)
	}
	if ha, hb := a.handledPartitions(), b.handledPartitions(); !slices.Equal(ha, pa) || !slices.Equal(hb, pb) {
		t.Errorf("a scored partitions %v (owns %v), b scored %v (owns %v)", ha, pa, hb, pb)
	}
	want, _ := e.backtest(t)
	checkServing(t, want, a, b)
	a.stop(t)
	b.stop(t)
	checkAgainstBacktest(t, e)
}

// A partition moves: A runs alone, B joins (a rebalance), A stops
// gracefully while events still arrive, B finishes with every partition;
// B's state, restored from the changelog A left, equals the backtest.
func TestScaleOutPartitionMoves(t *testing.T) {
	e, msgs := prepare(t, 160)
	n := len(msgs)
	a := e.start(t, "a", "")
	waitFor(t, "a owns every partition", func() (bool, error) { return len(a.g.Assignment()) == partitions, nil }, a)
	e.produce(t, msgs[:n/3])
	waitFor(t, "the first third committed", e.done(t), a)

	b := e.start(t, "b", "")
	waitFor(t, "a split of the partitions", func() (bool, error) { return split(a, b) }, a, b)
	moved := a.g.Assignment() // what b will take over when a stops
	e.produce(t, msgs[n/3:2*n/3])

	// The rest arrives in small pieces while a stops.
	produced := make(chan error, 1)
	go func() {
		p, err := stream.NewProducer(stream.ProducerConfig{Brokers: e.brokers, Topic: "events"})
		if err != nil {
			produced <- err
			return
		}
		defer p.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rest := msgs[2*n/3:]
		for len(rest) > 0 {
			k := min(len(rest), 150)
			if err := p.Write(ctx, rest[:k]...); err != nil {
				produced <- err
				return
			}
			rest = rest[k:]
			time.Sleep(5 * time.Millisecond)
		}
		produced <- nil
	}()
	a.stop(t)
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b owns every partition, all committed", func() (bool, error) {
		if len(b.g.Assignment()) != partitions {
			return false, nil
		}
		return e.committedAll(ctxFor(t, 10*time.Second))
	}, b)
	if got := b.handledPartitions(); len(got) != partitions {
		t.Errorf("b scored partitions %v; it should have taken over %v", got, moved)
	}
	if restored := b.log.count("restored partition state"); restored < len(moved) {
		t.Errorf("b restored %d partitions from the changelog, want at least the %d it took over", restored, len(moved))
	}
	want, _ := e.backtest(t)
	checkServing(t, want, b)
	b.stop(t)
	checkAgainstBacktest(t, e)
}

// A graceful stop writes snapshots; a restart with the same state
// directory restores every partition from them, not from the changelog,
// and carries on to the backtest's results.
func TestScaleOutRestartUsesSnapshot(t *testing.T) {
	e, msgs := prepare(t, 120)
	n := len(msgs)
	dir := t.TempDir()
	e.produce(t, msgs[:n/2])
	a := e.start(t, "a", dir)
	waitFor(t, "the first half committed", e.done(t), a)
	a.stop(t)
	for p := 0; p < partitions; p++ {
		if _, err := os.Stat(snapshotPath(dir, "events", p)); err != nil {
			t.Fatalf("no snapshot after a graceful stop: %v", err)
		}
	}
	e.produce(t, msgs[n/2:])
	a2 := e.start(t, "a2", dir)
	waitFor(t, "the rest committed", e.done(t), a2)
	if got := a2.log.count("restored partition state from the local snapshot"); got != partitions {
		t.Errorf("%d partitions restored from snapshots, want %d", got, partitions)
	}
	if got := a2.log.count("restored partition state"); got != 0 {
		t.Errorf("%d partitions restored from the changelog, want 0: the snapshots were current", got)
	}
	want, _ := e.backtest(t)
	checkServing(t, want, a2)
	a2.stop(t)
	checkAgainstBacktest(t, e)
}

// A graceful stop while batches are still being made durable lets them
// finish (the consumer drains before the generation ends): every
// partition is snapshotted, none dropped, and the restart restores every
// partition from its snapshot instead of replaying.
func TestGracefulStopWithBatchesInFlightSnapshots(t *testing.T) {
	e, msgs := prepare(t, 120)
	dir := t.TempDir()
	e.produce(t, msgs)
	// A slow changelog keeps batches queued behind the state step.
	var slow atomic.Bool
	slow.Store(true)
	a := e.startWith(t, "a", dir, func(step string) error {
		if step == "state" && slow.Load() {
			time.Sleep(100 * time.Millisecond)
		}
		return nil
	})
	waitFor(t, "every partition scoring with batches in flight", func() (bool, error) {
		return len(a.handledPartitions()) == partitions && a.batchesInFlight.Load() >= partitions, nil
	}, a)
	done, err := e.committedAll(ctxFor(t, 10*time.Second))
	if err != nil || done {
		t.Fatalf("everything committed before the stop (%v): the test needs batches in flight", err)
	}
	inFlight := a.batchesInFlight.Load()
	a.stop(t)
	slow.Store(false)
	if n := a.batchesInFlight.Load(); n != 0 {
		t.Errorf("%d batches still in flight after the stop", n)
	}
	for _, msg := range []string{
		"batches in flight at revoke were not made durable: the partition's state is dropped; its next owner replays them",
		"generation ended during a batch: its state is not saved and the partition's state dropped; the new owner replays it",
	} {
		if got := a.log.count(msg); got != 0 {
			t.Errorf("%d partitions logged %q", got, msg)
		}
	}
	for p := 0; p < partitions; p++ {
		if _, err := os.Stat(snapshotPath(dir, "events", p)); err != nil {
			t.Errorf("no snapshot after a graceful stop with %d batches in flight: %v", inFlight, err)
		}
	}
	a2 := e.start(t, "a2", dir)
	// The drain may have left nothing to commit: "the rest committed"
	// can hold before a2 restored anything, so wait for the restores.
	waitFor(t, "a2 restored every partition", func() (bool, error) { return a2.restored() >= partitions, nil }, a2)
	if got := a2.log.count("restored partition state from the local snapshot"); got != partitions {
		t.Errorf("%d partitions restored from snapshots, want %d", got, partitions)
	}
	if got := a2.log.count("restored partition state"); got != 0 {
		t.Errorf("%d partitions restored from the changelog, want 0: the snapshots were current", got)
	}
	waitFor(t, "the rest committed", e.done(t), a2)
	want, _ := e.backtest(t)
	checkServing(t, want, a2)
	a2.stop(t)
	checkAgainstBacktest(t, e)
}

// A snapshot that another instance has since moved past is not used: its
// offset is not the committed offset, so the restart reads the changelog.
// Using it would lose the other instance's events from the scores.
func TestScaleOutStaleSnapshotIgnored(t *testing.T) {
	e, msgs := prepare(t, 120)
	n := len(msgs)
	dir := t.TempDir()
	e.produce(t, msgs[:n/3])
	a := e.start(t, "a", dir)
	waitFor(t, "the first third committed", e.done(t), a)
	a.stop(t) // snapshots at the end of the first third

	e.produce(t, msgs[n/3:2*n/3])
	b := e.start(t, "b", "")
	waitFor(t, "the second third committed", e.done(t), b)
	if got := b.handledPartitions(); len(got) != partitions {
		t.Fatalf("b scored partitions %v: every snapshot must be stale for this test", got)
	}
	b.stop(t)

	e.produce(t, msgs[2*n/3:])
	a2 := e.start(t, "a2", dir)
	waitFor(t, "the rest committed", e.done(t), a2)
	if got := a2.log.count("restored partition state from the local snapshot"); got != 0 {
		t.Errorf("%d partitions restored from stale snapshots", got)
	}
	if got := a2.log.count("restored partition state"); got != partitions {
		t.Errorf("%d partitions restored from the changelog, want %d", got, partitions)
	}
	want, _ := e.backtest(t)
	checkServing(t, want, a2)
	a2.stop(t)
	checkAgainstBacktest(t, e)
}

// A damaged snapshot at the committed offset is reported and the
// changelog used instead.
func TestScaleOutDamagedSnapshotFallsBack(t *testing.T) {
	e, msgs := prepare(t, 80)
	dir := t.TempDir()
	e.produce(t, msgs)
	a := e.start(t, "a", dir)
	waitFor(t, "every partition committed", e.done(t), a)
	a.stop(t)
	// Cut every snapshot short after its header: the offset still matches.
	for p := 0; p < partitions; p++ {
		path := snapshotPath(dir, "events", p)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data[:len(data)/2], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a2 := e.start(t, "a2", dir)
	waitFor(t, "a2 owns every partition", func() (bool, error) { return len(a2.g.Assignment()) == partitions, nil }, a2)
	waitFor(t, "every partition restored", func() (bool, error) {
		return a2.log.count("restored partition state") == partitions, nil
	}, a2)
	if got := a2.log.count("unreadable snapshot: restoring from the changelog"); got != partitions {
		t.Errorf("%d damaged snapshots reported, want %d", got, partitions)
	}
	want, _ := e.backtest(t)
	checkServing(t, want, a2)
	a2.stop(t)
	checkAgainstBacktest(t, e)
}
