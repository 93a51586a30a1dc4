package stream

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Group timings of the kill tests: short, so that many iterations fit.
const (
	killSession   = time.Second
	killRebalance = time.Second
	killHeartbeat = 100 * time.Millisecond
	// killMargin covers what follows the broker's timers: survivors
	// noticing the rebalance on their next heartbeat, kafka-go's 500 ms
	// join backoff, the join and sync round trips, on a loaded machine.
	killMargin = 3 * time.Second
)

// killSwitch cuts a client off from the cluster as kill -9 of its process
// would: every open connection is closed at once (the broker sees the
// sockets close) and no new one can be opened. A trigger kills when the
// client has sent its nth request of one API (e.g. the first JoinGroup),
// after a delay: 0 leaves the request parked at the broker with its
// sender dead, a few ms may let the response arrive first.
type killSwitch struct {
	name string

	mu    sync.Mutex
	dead  bool
	at    time.Time
	conns []net.Conn
	sent  map[int16]int

	key   int16 // -1: no protocol trigger
	nth   int
	delay time.Duration
	fired bool
	died  chan struct{}
}

func newKillSwitch(name string, key int16, nth int, delay time.Duration) *killSwitch {
	return &killSwitch{name: name, key: key, nth: nth, delay: delay, sent: map[int16]int{}, died: make(chan struct{})}
}

func (k *killSwitch) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.dead {
		return nil, fmt.Errorf("%s is dead", k.name)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	w := &watchedConn{Conn: c, k: k}
	k.conns = append(k.conns, w)
	return w, nil
}

func (k *killSwitch) kafkaDialer() *kafka.Dialer {
	return &kafka.Dialer{Timeout: 5 * time.Second, DialFunc: k.dial}
}

func (k *killSwitch) kill() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.dead {
		return
	}
	k.dead = true
	k.at = time.Now()
	for _, c := range k.conns {
		c.Close()
	}
	close(k.died)
}

func (k *killSwitch) diedAt() time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.at
}

// request is called for every request the client writes.
func (k *killSwitch) request(key int16) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sent[key]++
	if k.fired || k.key != key || k.sent[key] != k.nth {
		return
	}
	k.fired = true
	if k.delay == 0 {
		k.dead = true
		k.at = time.Now()
		for _, c := range k.conns {
			c.Close()
		}
		close(k.died)
		return
	}
	time.AfterFunc(k.delay, k.kill)
}

// watchedConn reads the API key of each request framed in the byte stream
// the client writes (int32 size, then int16 api key).
type watchedConn struct {
	net.Conn
	k    *killSwitch
	hdr  []byte
	skip int
}

func (c *watchedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	for q := p[:n]; len(q) > 0; {
		if c.skip > 0 {
			s := min(c.skip, len(q))
			c.skip -= s
			q = q[s:]
			continue
		}
		take := min(6-len(c.hdr), len(q))
		c.hdr = append(c.hdr, q[:take]...)
		q = q[take:]
		if len(c.hdr) == 6 {
			c.skip = int(binary.BigEndian.Uint32(c.hdr[:4])) - 2
			key := int16(binary.BigEndian.Uint16(c.hdr[4:]))
			c.hdr = c.hdr[:0]
			c.k.request(key)
		}
	}
	return n, err
}

// groupClient is one member of the group under test, either our
// GroupConsumer (kafka-go) or franz-go's kgo, so that a fault can be told
// apart between the broker and one client.
type groupClient interface {
	owned() []int
	seen(v string) bool
	stop()
}

type kafkaGoClient struct {
	gc   *GroupConsumer
	rec  *recorder
	done chan struct{}
	quit context.CancelFunc
}

func startKafkaGo(brokers []string, group string, ks *killSwitch) *kafkaGoClient {
	rec := newRecorder(group)
	cfg := GroupConfig{
		Brokers: brokers, Group: group, Topic: testTopic,
		HeartbeatInterval: killHeartbeat, SessionTimeout: killSession, RebalanceTimeout: killRebalance,
		CommitInterval: 100 * time.Millisecond, MaxWait: 100 * time.Millisecond, RevokeTimeout: 200 * time.Millisecond,
	}
	if ks != nil {
		cfg.dialer = ks.kafkaDialer()
	}
	if os.Getenv("STREAM_KILL_DEBUG") != "" {
		name := "survivor"
		if ks != nil {
			name = ks.name
		}
		l := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).With().Timestamp().Str("member", name).Logger().Level(zerolog.DebugLevel)
		cfg.Log = &l
	}
	gc, err := NewGroupConsumer(cfg, rec)
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &kafkaGoClient{gc: gc, rec: rec, done: make(chan struct{}), quit: cancel}
	go func() {
		defer close(c.done)
		gc.Run(ctx)
	}()
	return c
}

func (c *kafkaGoClient) owned() []int       { return c.gc.Assignment() }
func (c *kafkaGoClient) seen(v string) bool { return c.rec.has(v) }
func (c *kafkaGoClient) stop() {
	c.quit()
	<-c.done
}

type kgoClient struct {
	cl   *kgo.Client
	mu   sync.Mutex
	own  map[int32]bool
	vals map[string]bool
	done chan struct{}
	quit context.CancelFunc
}

func startKgo(brokers []string, group string, ks *killSwitch) *kgoClient {
	c := &kgoClient{own: map[int32]bool{}, vals: map[string]bool{}, done: make(chan struct{})}
	drop := func(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, p := range lost[testTopic] {
			delete(c.own, p)
		}
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(testTopic),
		// kafka-go speaks only the eager "range" and "roundrobin".
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.SessionTimeout(killSession), kgo.RebalanceTimeout(killRebalance), kgo.HeartbeatInterval(killHeartbeat),
		kgo.FetchMaxWait(100 * time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, got map[string][]int32) {
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, p := range got[testTopic] {
				c.own[p] = true
			}
		}),
		kgo.OnPartitionsRevoked(drop),
		kgo.OnPartitionsLost(drop),
	}
	if ks != nil {
		opts = append(opts, kgo.Dialer(ks.dial), kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		panic(err)
	}
	c.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	c.quit = cancel
	go func() {
		defer close(c.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				c.mu.Lock()
				c.vals[string(r.Value)] = true
				c.mu.Unlock()
			})
		}
	}()
	return c
}

func (c *kgoClient) owned() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for p := range c.own {
		out = append(out, int(p))
	}
	sort.Ints(out)
	return out
}

func (c *kgoClient) seen(v string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.vals[v]
}

func (c *kgoClient) stop() {
	c.quit()
	<-c.done
	closed := make(chan struct{})
	go func() { c.cl.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second): // a dead client cannot leave; do not wait for it
	}
}

func startClient(kind string, brokers []string, group string, ks *killSwitch) groupClient {
	if kind == "kgo" {
		return startKgo(brokers, group, ks)
	}
	return startKafkaGo(brokers, group, ks)
}

func newKillCluster(t *testing.T) (*kfake.Cluster, []string) {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(testPartitions, testTopic), kfake.GroupMinSessionTimeout(500 * time.Millisecond)}
	if os.Getenv("STREAM_KILL_DEBUG") != "" {
		opts = append(opts, kfake.WithLogger(kfake.BasicLogger(os.Stderr, kfake.LogLevelDebug)))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()
}

// ownershipProblem says why the group's partitions do not all have a live
// owner yet, or "" when they do: the broker's group is Stable with exactly
// the survivors as members, each partition is assigned to one member, and
// the survivors' own views of what they hold agree.
func ownershipProblem(c *kfake.Cluster, group string, survivors []groupClient) string {
	info := c.GroupInfo(group)
	if info == nil {
		return "group unknown to the broker"
	}
	if info.State != "Stable" {
		return "group is " + info.State
	}
	if len(info.Members) != len(survivors) {
		var ms []string
		for _, m := range info.Members {
			ms = append(ms, fmt.Sprintf("%s@%s:%v", m.MemberID, m.ClientHost, m.Assignment[testTopic]))
		}
		return fmt.Sprintf("group has %d members for %d live clients: %v", len(info.Members), len(survivors), ms)
	}
	held := map[int]int{}
	for _, s := range survivors {
		for _, p := range s.owned() {
			held[p]++
		}
	}
	for p := range testPartitions {
		if held[p] != 1 {
			return fmt.Sprintf("partition %d is held by %d live clients (%v)", p, held[p], held)
		}
	}
	return ""
}

// awaitOwners waits until every partition has a live owner, then proves
// the owners consume: one marker per partition must reach a survivor.
func awaitOwners(t *testing.T, c *kfake.Cluster, brokers []string, group string, survivors []groupClient, from time.Time, limit time.Duration) time.Duration {
	t.Helper()
	deadline := from.Add(limit)
	var problem string
	for {
		if problem = ownershipProblem(c, group, survivors); problem == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s: %v after the last kill, not every partition has a live owner (limit %v): %s",
				group, time.Since(from).Round(time.Millisecond), limit, problem)
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(from)
	ctx := testCtx(t, 30*time.Second)
	var markers []Record
	for p := range testPartitions {
		markers = append(markers, Record{Partition: p, Value: []byte(fmt.Sprintf("%s-marker-%d", group, p))})
	}
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: testTopic, Balancer: toPartition{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	if err := w.WriteMessages(ctx, kafkaMessages(markers)...); err != nil {
		t.Fatal(err)
	}
	w.Close()
	eventually(t, 15*time.Second, "every partition's marker consumed by a live member", func() bool {
		for _, m := range markers {
			if !slices.ContainsFunc(survivors, func(s groupClient) bool { return s.seen(string(m.Value)) }) {
				return false
			}
		}
		return true
	})
	return took
}

// TestDeadJoinerDoesNotKeepPartitions is issue 19 made deterministic: a
// member dies (no leave), a second member dies while its JoinGroup waits
// for the first one's session to expire, and a third joins. The rebalance
// that completes when the first expires keeps the second (it was waiting
// in JoinGroup) and hands it half of the partitions. The survivor, if
// elected leader, syncs at once and the group is Stable; nothing may then
// leave the dead member holding its partitions past its session timeout.
// Which member leads is the broker's choice, and whether kfake saw the
// dead connection when answering it was a coin toss (a buffered channel),
// so each survivor kind runs 8 rounds: unpatched, a round failed about
// one time in four. Both clients must heal, as the fault is the broker's.
func TestDeadJoinerDoesNotKeepPartitions(t *testing.T) {
	c, brokers := newKillCluster(t)
	for _, kind := range []string{"kafka-go", "kgo"} {
		t.Run(kind, func(t *testing.T) {
			for round := range 8 {
				group := fmt.Sprintf("dead-joiner-%s-%d", kind, round)
				first := newKillSwitch("first", -1, 0, 0)
				a := startKafkaGo(brokers, group, first)
				eventually(t, 15*time.Second, "the first member owns every partition", func() bool { return len(a.owned()) == testPartitions })
				first.kill()
				// The second member's JoinGroup waits on the first: it dies with it parked.
				second := newKillSwitch("second", int16(kmsg.JoinGroup), 1, 0)
				if kind == "kgo" {
					second.nth = 2 // kgo's first JoinGroup only fetches a member id
				}
				b := startClient(kind, brokers, group, second)
				select {
				case <-second.died:
				case <-time.After(10 * time.Second):
					t.Fatal("the second member never sent its JoinGroup")
				}
				s := startClient(kind, brokers, group, nil)
				took := awaitOwners(t, c, brokers, group, []groupClient{s}, time.Now(), killSession+killRebalance+killMargin)
				t.Logf("round %d: every partition owned by the survivor %v after it started", round, took.Round(time.Millisecond))
				s.stop()
				go a.stop()
				go b.stop()
			}
		})
	}
}

// killPlan is one seeded iteration of TestKillMembersAtRandomProtocolMoments.
type killPlan struct {
	survivors []string        // client kinds
	survStart []time.Duration // start offsets
	victims   []string
	vicStart  []time.Duration
	keys      []int16 // -1: killed at a random time instead
	nths      []int
	delays    []time.Duration
	fallback  []time.Duration // kill at this offset if the trigger never fired
}

func newKillPlan(r *rand.Rand) killPlan {
	kinds := []string{"kafka-go", "kgo"}
	var p killPlan
	for range 1 + r.IntN(2) {
		p.survivors = append(p.survivors, kinds[r.IntN(2)])
		p.survStart = append(p.survStart, time.Duration(r.IntN(2000))*time.Millisecond)
	}
	keys := []int16{int16(kmsg.JoinGroup), int16(kmsg.SyncGroup), int16(kmsg.Heartbeat), -1}
	for range 1 + r.IntN(3) {
		p.victims = append(p.victims, kinds[r.IntN(2)])
		start := time.Duration(r.IntN(1500)) * time.Millisecond
		p.vicStart = append(p.vicStart, start)
		p.keys = append(p.keys, keys[r.IntN(len(keys))])
		p.nths = append(p.nths, 1+r.IntN(3))
		d := time.Duration(r.IntN(30)) * time.Millisecond
		if r.IntN(10) < 3 {
			d = time.Duration(r.IntN(400)) * time.Millisecond
		}
		if r.IntN(4) == 0 {
			d = 0
		}
		p.delays = append(p.delays, d)
		p.fallback = append(p.fallback, start+time.Duration(300+r.IntN(3000))*time.Millisecond)
	}
	return p
}

// TestKillMembersAtRandomProtocolMoments kills group members (both
// clients) at seeded random moments of the join/sync/heartbeat protocol:
// right after sending their nth JoinGroup, SyncGroup or Heartbeat (the
// request parked at the broker, or its answer just in), or at a random
// time; survivors of both kinds join at random moments. Within
// SessionTimeout + RebalanceTimeout + a margin of the last kill (or of the
// last survivor's start, if later), every partition must have exactly one
// live owner, which consumes it.
//
// STREAM_KILL_SEED and STREAM_KILL_ITERATIONS (default 24) repeat or widen
// a run.
func TestKillMembersAtRandomProtocolMoments(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("STREAM_KILL_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("STREAM_KILL_SEED %q: %v", s, err)
		}
		seed = v
	}
	iterations := 24
	if s := os.Getenv("STREAM_KILL_ITERATIONS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("STREAM_KILL_ITERATIONS %q: want a positive integer", s)
		}
		iterations = v
	}
	if testing.Short() {
		iterations = min(iterations, 6)
	}
	t.Logf("seed %d (STREAM_KILL_SEED=%d repeats this run), %d iterations", seed, seed, iterations)
	c, brokers := newKillCluster(t)
	// Some history, so members have something to fetch and commit.
	var msgs []Record
	for p := range testPartitions {
		for i := range 20 {
			msgs = append(msgs, Record{Partition: p, Value: []byte(fmt.Sprintf("history-%d-%d", p, i))})
		}
	}
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: testTopic, Balancer: toPartition{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	if err := w.WriteMessages(testCtx(t, 30*time.Second), kafkaMessages(msgs)...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	sem := make(chan struct{}, 4) // groups are independent: run a few at once
	var (
		mu    sync.Mutex
		worst time.Duration
	)
	t.Run("iterations", func(t *testing.T) {
		for i := range iterations {
			r := rand.New(rand.NewPCG(seed, uint64(i)))
			plan := newKillPlan(r)
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				sem <- struct{}{}
				defer func() { <-sem }()
				took := runKillPlan(t, c, brokers, fmt.Sprintf("kill-%d-%d", seed, i), plan)
				mu.Lock()
				worst = max(worst, took)
				mu.Unlock()
			})
		}
	})
	t.Logf("slowest recovery after the last kill: %v (limit %v)", worst.Round(time.Millisecond), killSession+killRebalance+killMargin)
}

func runKillPlan(t *testing.T, c *kfake.Cluster, brokers []string, group string, p killPlan) time.Duration {
	t.Logf("plan: survivors %v at %v; victims %v at %v, killed on api %v #%v after %v (else at %v)",
		p.survivors, p.survStart, p.victims, p.vicStart, p.keys, p.nths, p.delays, p.fallback)
	begin := time.Now()
	var (
		mu        sync.Mutex
		survivors = make([]groupClient, len(p.survivors))
		victims   []groupClient
		switches  []*killSwitch
		wg        sync.WaitGroup
	)
	lastStart := begin
	for i, kind := range p.survivors {
		wg.Go(func() {
			time.Sleep(p.survStart[i])
			s := startClient(kind, brokers, group, nil)
			mu.Lock()
			survivors[i] = s
			mu.Unlock()
		})
		if at := begin.Add(p.survStart[i]); at.After(lastStart) {
			lastStart = at
		}
	}
	for i, kind := range p.victims {
		ks := newKillSwitch(fmt.Sprintf("victim-%d", i), p.keys[i], p.nths[i], p.delays[i])
		switches = append(switches, ks)
		wg.Go(func() {
			time.Sleep(p.vicStart[i])
			v := startClient(kind, brokers, group, ks)
			mu.Lock()
			victims = append(victims, v)
			mu.Unlock()
			select {
			case <-ks.died:
			case <-time.After(p.fallback[i] - p.vicStart[i]):
				ks.kill()
			}
		})
	}
	wg.Wait()
	defer func() {
		for _, v := range victims {
			go v.stop() // a dead member's client only retries; let it go in the background
		}
		for _, s := range survivors {
			s.stop()
		}
	}()
	from := lastStart
	for _, ks := range switches {
		if at := ks.diedAt(); at.After(from) {
			from = at
		}
	}
	took := awaitOwners(t, c, brokers, group, survivors, from, killSession+killRebalance+killMargin)
	t.Logf("every partition owned %v after the last kill or start", took.Round(time.Millisecond))
	return took
}
