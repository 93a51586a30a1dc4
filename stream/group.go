package stream

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
)

// GroupConfig configures a GroupConsumer. Brokers, Group and Topic are
// required; every duration has a default that suits a local broker.
type GroupConfig struct {
	Brokers []string
	Group   string
	Topic   string
	// StartOffset applies to partitions the group never committed:
	// FirstOffset (default) or LastOffset.
	StartOffset int64
	// MaxBatch is the most messages one Handle call receives (default 500).
	MaxBatch int
	// CommitInterval is how often offsets marked with Claim.Commit are
	// sent to the group (default 1s). Marks are also sent when a
	// partition is revoked and when Run returns.
	CommitInterval time.Duration
	// HeartbeatInterval (default 1s) bounds how fast this member notices a
	// rebalance; SessionTimeout (default 10s) how fast the group notices
	// this member died; RebalanceTimeout (default 10s) how long the group
	// waits for members to rejoin.
	HeartbeatInterval time.Duration
	SessionTimeout    time.Duration
	RebalanceTimeout  time.Duration
	// RevokeTimeout bounds Handler.Revoked (default 5s), and on a
	// graceful stop also the drain before it: the wait for the batches
	// in flight (Claim.Track) while the generation is still held. Keep it
	// well under RebalanceTimeout: a member still revoking after that is
	// dropped from the group, and its partitions may be assigned while
	// it is still flushing.
	RevokeTimeout time.Duration
	// MaxWait is the fetch long-poll (default 250ms).
	MaxWait time.Duration
	// Log receives assignment changes and commit failures (default: none).
	Log *zerolog.Logger

	// dialer, when set, opens every connection (tests use it to cut a
	// member off as kill -9 would).
	dialer *kafka.Dialer
}

func (c *GroupConfig) validate() error {
	var problems []string
	if len(c.Brokers) == 0 {
		problems = append(problems, "no brokers")
	}
	if c.Group == "" {
		problems = append(problems, "no group")
	}
	if c.Topic == "" {
		problems = append(problems, "no topic")
	}
	if c.StartOffset == 0 {
		c.StartOffset = kafka.FirstOffset
	}
	if c.StartOffset != kafka.FirstOffset && c.StartOffset != kafka.LastOffset {
		problems = append(problems, "start offset must be FirstOffset or LastOffset")
	}
	if len(problems) > 0 {
		return fmt.Errorf("group consumer: %s", joinProblems(problems))
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 500
	}
	def(&c.CommitInterval, time.Second)
	def(&c.HeartbeatInterval, time.Second)
	def(&c.SessionTimeout, 10*time.Second)
	def(&c.RebalanceTimeout, 10*time.Second)
	def(&c.RevokeTimeout, 5*time.Second)
	def(&c.MaxWait, 250*time.Millisecond)
	if c.Log == nil {
		nop := zerolog.Nop()
		c.Log = &nop
	}
	return nil
}

// Handler receives one partition's lifecycle. For a given Claim the calls
// are sequential: Assigned, then Handle zero or more times, then Revoked
// (only if Assigned succeeded).
// Different partitions are called concurrently, each from its own
// goroutine.
//
// An error from any callback stops the consumer: Run commits what was
// marked, leaves the group and returns the error. Handle a bad message
// yourself (e.g. send it to a dead-letter topic and mark past it) and
// return errors only for failures a restart should retry.
type Handler interface {
	// Assigned runs before the partition's first message: restore the
	// partition's state here. c.Committed is where the group's committed
	// offset stands (-1 when none); call c.StartAt to resume elsewhere.
	Assigned(ctx context.Context, c *Claim) error
	// Handle processes consecutive messages of one partition, in offset
	// order. Call c.Commit(next) once the effects of every message before
	// next are durable. msgs may be retained.
	Handle(ctx context.Context, c *Claim, msgs []Record) error
	// Revoked runs when the partition leaves this member (a rebalance or
	// Run returning): flush, then Commit. The marks are committed after it
	// returns. Its ctx is bounded by GroupConfig.RevokeTimeout.
	Revoked(ctx context.Context, c *Claim) error
}

// Claim is one partition owned by this member for one generation.
//
// kafka-go's groups rebalance eagerly: every rebalance revokes every
// partition of every member and assigns them again, often to the same
// member. A handler that keeps a partition's state in memory may reuse it
// in Assigned when Committed equals the offset its state reflects.
type Claim struct {
	Topic      string
	Partition  int
	Generation int32
	MemberID   string
	// Committed is the group's committed offset for the partition when it
	// was assigned: the next message to process. -1: nothing committed.
	Committed int64

	start int64
	mark  atomic.Int64
	lag   atomic.Int64

	done    <-chan struct{} // the generation's end
	stopped chan struct{}   // closed when no Handle call will follow

	// end is the partition's end offset as last seen (fetched batches'
	// high watermark, or a ListOffsets of the periodic commit); committed
	// the offset the group holds for it. Lag is their difference.
	end       atomic.Int64
	committed atomic.Int64

	failMu  sync.Mutex
	failErr error
	failed  chan struct{} // closed by Fail; nil until needed

	trackMu sync.Mutex
	tracked []*trackedBatch // in the order Track was called
	idle    chan struct{}   // closed when tracked empties; nil when empty
}

type trackedBatch struct {
	next int64
	done bool
}

// StartAt makes consumption begin at offset instead of the committed
// offset, e.g. where a local state store says it stopped. Only valid in
// Assigned. FirstOffset and LastOffset are accepted too.
func (c *Claim) StartAt(offset int64) { c.start = offset }

// Commit marks every message before next as done: its effects are
// durable. The mark is sent to the group asynchronously (see
// GroupConfig.CommitInterval); a crash before then replays from the
// previous commit, which idempotent effects absorb. Marks never go back.
func (c *Claim) Commit(next int64) {
	for {
		cur := c.mark.Load()
		if next <= cur || c.mark.CompareAndSwap(cur, next) {
			return
		}
	}
}

// Track is Commit for effects that become durable later, e.g. a batch
// whose output was handed to Producer.WriteAsync: call the returned
// function once they are durable. Marks advance in the order Track was
// called: a batch's next offset is committed only when it and every batch
// tracked before it are done. Call Track in offset order; the returned
// function may be called from any goroutine, once.
func (c *Claim) Track(next int64) (done func()) {
	b := &trackedBatch{next: next}
	c.trackMu.Lock()
	c.tracked = append(c.tracked, b)
	if c.idle == nil {
		c.idle = make(chan struct{})
	}
	c.trackMu.Unlock()
	return func() {
		c.trackMu.Lock()
		defer c.trackMu.Unlock()
		b.done = true
		for len(c.tracked) > 0 && c.tracked[0].done {
			c.Commit(c.tracked[0].next)
			c.tracked = c.tracked[1:]
		}
		if len(c.tracked) == 0 && c.idle != nil {
			close(c.idle)
			c.idle = nil
		}
	}
}

// WaitTracked waits until every tracked batch is done or ctx ends: call it
// in Revoked so the final commit covers the batches still in flight.
func (c *Claim) WaitTracked(ctx context.Context) error {
	c.trackMu.Lock()
	idle := c.idle
	c.trackMu.Unlock()
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s/%d: tracked batches still in flight: %w", c.Topic, c.Partition, ctx.Err())
	}
}

// waitTrackedUnlessFailed is WaitTracked, cut short by Fail: a failed
// batch is never done.
func (c *Claim) waitTrackedUnlessFailed(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	failed := c.failure()
	go func() {
		select {
		case <-failed:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := c.WaitTracked(ctx)
	if ferr := c.Failure(); ferr != nil {
		return fmt.Errorf("%s/%d: %w", c.Topic, c.Partition, ferr)
	}
	return err
}

// Fail stops the partition as if Handle had returned err: for an effect
// that fails after Handle returned (written in the background, see
// Track). The first error counts; it is safe from any goroutine.
func (c *Claim) Fail(err error) {
	c.failMu.Lock()
	defer c.failMu.Unlock()
	if c.failErr != nil {
		return
	}
	c.failErr = err
	if c.failed == nil {
		c.failed = make(chan struct{})
	}
	close(c.failed)
}

// failure is closed once Fail was called; Failure is its error.
func (c *Claim) failure() <-chan struct{} {
	c.failMu.Lock()
	defer c.failMu.Unlock()
	if c.failed == nil {
		c.failed = make(chan struct{})
	}
	return c.failed
}

// Failure is the error given to Fail, or nil.
func (c *Claim) Failure() error {
	c.failMu.Lock()
	defer c.failMu.Unlock()
	return c.failErr
}

// Done is closed when this claim's generation ends: a rebalance, or Run
// returning (after a graceful stop drained the tracked batches, see
// Run). Handle runs to completion even then (its context does not
// end), but the partition may already belong to another member: a handler
// must not write state a new owner could have superseded after Done.
func (c *Claim) Done() <-chan struct{} { return c.done }

// Marked is the highest offset passed to Commit, or -1.
func (c *Claim) Marked() int64 { return c.mark.Load() }

// Lag is how many messages of the partition are not committed: its end
// offset (refreshed with every commit interval, and by every fetched
// batch) less the offset the group holds. It grows while batches are
// scored but not yet durable, and while a batch waits on a slow effect
// (ClickHouse, Kafka) and nothing is fetched. Before the first commit of
// a partition the group never committed, it counts from the first
// offset fetched.
func (c *Claim) Lag() int64 {
	end, committed := c.end.Load(), c.committed.Load()
	if end <= 0 || committed < 0 {
		return c.lag.Load()
	}
	return max(0, end-committed)
}

// seen raises the end offset the claim knows.
func (c *Claim) seen(end int64) {
	for {
		cur := c.end.Load()
		if end <= cur || c.end.CompareAndSwap(cur, end) {
			return
		}
	}
}

// GroupConsumer consumes one topic as a member of a consumer group and
// hands each assigned partition to a Handler, with explicit commits. It is
// built on kafka-go's ConsumerGroup/Generation API because kafka-go's
// Reader hides the assignments a stateful consumer must act on.
type GroupConsumer struct {
	cfg GroupConfig
	h   Handler
	log zerolog.Logger

	mu     sync.Mutex
	claims map[int]*Claim
	ends   *kafka.Client // end offsets for Lag; used by the commit loop only
}

// NewGroupConsumer validates the configuration; Run joins the group.
func NewGroupConsumer(cfg GroupConfig, h Handler) (*GroupConsumer, error) {
	if h == nil {
		return nil, errors.New("group consumer: nil handler")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.Log.With().Str("group", cfg.Group).Str("topic", cfg.Topic).Logger()
	return &GroupConsumer{cfg: cfg, h: h, log: log, claims: map[int]*Claim{}}, nil
}

// Run consumes until ctx ends or a Handler callback fails. On the way out
// it revokes every partition (Handler.Revoked), commits the marks and
// leaves the group, so another member takes over at once. It returns nil
// after ctx ends, or the callback's error. Call it once per
// GroupConsumer; run more instances by building more GroupConsumers.
//
// When ctx ends (a graceful stop) the generation is drained before it
// ends: no partition is fetched any more, and Run waits, within
// GroupConfig.RevokeTimeout, until every batch tracked with Claim.Track
// is done. The member still holds the generation then (it heartbeats and
// has neither left nor rejoined), so Claim.Done stays open and the
// handler's durable writes and the final commit are valid. Only then do
// the claims' Done close, Revoked run and the member leave. A drain that
// times out ends the generation anyway, as a rebalance does.
func (g *GroupConsumer) Run(ctx context.Context) error {
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                g.cfg.Group,
		Brokers:           g.cfg.Brokers,
		Topics:            []string{g.cfg.Topic},
		HeartbeatInterval: g.cfg.HeartbeatInterval,
		SessionTimeout:    g.cfg.SessionTimeout,
		RebalanceTimeout:  g.cfg.RebalanceTimeout,
		JoinGroupBackoff:  500 * time.Millisecond,
		StartOffset:       g.cfg.StartOffset,
		Timeout:           5 * time.Second,
		Dialer:            g.cfg.dialer,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			g.log.Debug().Msgf("kafka-go: "+msg, args...)
		}),
	})
	if err != nil {
		return fmt.Errorf("group %s: %w", g.cfg.Group, err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		failMu sync.Mutex
		failed error
		// drained is closed once the current generation drained after ctx
		// ended, or stopped for another reason.
		drained <-chan struct{}
	)
	for {
		gen, err := cg.Next(runCtx)
		if err != nil {
			if runCtx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				break
			}
			// kafka-go backs off before the next join attempt itself.
			g.log.Warn().Err(err).Msg("joining the group failed; retrying")
			continue
		}
		d := make(chan struct{})
		drained = d
		gen.Start(func(genCtx context.Context) {
			if err := g.runGeneration(genCtx, gen, ctx.Done(), d); err != nil {
				failMu.Lock()
				failed = errors.Join(failed, err)
				failMu.Unlock()
				cancel()
			}
		})
	}
	// The generation is still ours until Close: let it drain first.
	if drained != nil {
		<-drained
	}
	// Close ends the current generation, waits for runGeneration to revoke
	// and commit, then leaves the group.
	cg.Close()
	failMu.Lock()
	defer failMu.Unlock()
	return failed
}

// InGeneration reports whether this member holds a generation of the
// group (its assignment may be empty): false before it first joins and
// while a rebalance is under way.
func (g *GroupConsumer) InGeneration() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.claims != nil
}

func (g *GroupConsumer) Assignment() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]int, 0, len(g.claims))
	for p := range g.claims {
		out = append(out, p)
	}
	sort.Ints(out)
	return out
}

// Lag sums Claim.Lag over the partitions this member owns now.
func (g *GroupConsumer) Lag() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	var n int64
	for _, c := range g.claims {
		n += c.Lag()
	}
	return n
}

func (g *GroupConsumer) setClaims(claims []*Claim) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.claims = make(map[int]*Claim, len(claims))
	for _, c := range claims {
		g.claims[c.Partition] = c
	}
}

// runGeneration owns the partitions of one generation: one goroutine per
// partition, plus the periodic commit of marks; a final commit once every
// partition has been revoked. When stop closes first (Run's ctx ended) it
// drains the partitions while the generation is still held (see Run),
// then closes drained; it closes drained on its way out in any case.
func (g *GroupConsumer) runGeneration(ctx context.Context, gen *kafka.Generation, stop <-chan struct{}, drained chan struct{}) error {
	var drainedOnce sync.Once
	signalDrained := func() { drainedOnce.Do(func() { close(drained) }) }
	defer signalDrained()
	var claims []*Claim
	for _, a := range gen.Assignments[g.cfg.Topic] {
		c := &Claim{Topic: g.cfg.Topic, Partition: a.ID, Generation: gen.ID, MemberID: gen.MemberID, Committed: -1, start: a.Offset, stopped: make(chan struct{})}
		if a.Offset >= 0 {
			c.Committed = a.Offset
		}
		c.mark.Store(-1)
		c.committed.Store(c.Committed)
		claims = append(claims, c)
	}
	sort.Slice(claims, func(i, j int) bool { return claims[i].Partition < claims[j].Partition })
	g.setClaims(claims)
	defer g.setClaims(nil)
	log := g.log.With().Int32("generation", gen.ID).Logger()
	log.Info().Ints("partitions", partitionsOf(claims)).Msg("partitions assigned")

	// pctx ends the generation for the handler (Claim.Done); fctx ends
	// the fetching, earlier than pctx on a graceful stop.
	pctx, pcancel := context.WithCancel(ctx)
	defer pcancel()
	fctx, fcancel := context.WithCancel(pctx)
	defer fcancel()
	errs := make([]error, len(claims))
	var wg sync.WaitGroup
	for i, c := range claims {
		wg.Go(func() {
			if err := g.runPartition(pctx, fctx, c); err != nil {
				errs[i] = err
				pcancel()
			}
		})
	}
	// Only ever commit forward of what the group already holds, even if
	// a handler chose to StartAt an earlier offset.
	committed := map[int]int64{}
	for _, c := range claims {
		committed[c.Partition] = c.Committed
	}
	tick := time.NewTicker(g.cfg.CommitInterval)
	defer tick.Stop()
	var drainer sync.WaitGroup
	defer drainer.Wait()
	for done := false; !done; {
		select {
		case <-pctx.Done():
			done = true
		case <-stop:
			stop = nil
			fcancel()
			drainer.Go(func() {
				g.drain(pctx, claims, log)
				signalDrained()
			})
		case <-tick.C:
			if err := g.commit(gen, claims, committed); err != nil {
				log.Warn().Err(err).Msg("periodic commit failed; the next one retries")
			}
			g.refreshEnds(pctx, claims)
		}
	}
	wg.Wait()
	if err := g.commit(gen, claims, committed); err != nil {
		// The partitions' next owner replays from the previous commit.
		log.Warn().Err(err).Msg("commit on revoke failed; messages since the last commit will be replayed")
	}
	log.Info().Ints("partitions", partitionsOf(claims)).Msg("partitions revoked")
	return errors.Join(errs...)
}

// drain waits, within RevokeTimeout, until no claim will call Handle
// again and every batch it tracked is done; ctx ending (the generation
// ended under it: a rebalance or a failed partition) cuts it short.
func (g *GroupConsumer) drain(ctx context.Context, claims []*Claim, log zerolog.Logger) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, g.cfg.RevokeTimeout)
	defer cancel()
	var errs []error
	for _, c := range claims {
		select {
		case <-c.stopped:
			if err := c.waitTrackedUnlessFailed(ctx); err != nil {
				errs = append(errs, err)
			}
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("%s/%d: a batch still being handled: %w", c.Topic, c.Partition, ctx.Err()))
		}
	}
	if err := errors.Join(errs...); err != nil {
		log.Warn().Err(err).Dur("waited", time.Since(start)).
			Msg("graceful stop: batches in flight were not done in time; ending the generation anyway")
		return
	}
	log.Info().Ints("partitions", partitionsOf(claims)).Dur("took", time.Since(start)).
		Msg("graceful stop: batches in flight drained")
}

// commit sends the marks that moved since the last successful commit.
func (g *GroupConsumer) commit(gen *kafka.Generation, claims []*Claim, committed map[int]int64) error {
	offsets := map[int]int64{}
	for _, c := range claims {
		if m := c.Marked(); m > committed[c.Partition] {
			offsets[c.Partition] = m
		}
	}
	if len(offsets) == 0 {
		return nil
	}
	if err := gen.CommitOffsets(map[string]map[int]int64{g.cfg.Topic: offsets}); err != nil {
		return fmt.Errorf("commit %v for group %s topic %s: %w", offsets, g.cfg.Group, g.cfg.Topic, err)
	}
	for p, o := range offsets {
		committed[p] = o
	}
	for _, c := range claims {
		if o, ok := offsets[c.Partition]; ok {
			c.committed.Store(o)
		}
	}
	return nil
}

// refreshEnds asks the broker for the end offsets of the claimed
// partitions, so Lag grows while nothing is fetched (a handler waiting on
// a slow effect leaves the fetched messages unread). Failures keep the
// last values: a Kafka outage shows in the consumer's own errors.
func (g *GroupConsumer) refreshEnds(ctx context.Context, claims []*Claim) {
	if len(claims) == 0 {
		return
	}
	if g.ends == nil {
		g.ends = &kafka.Client{Addr: kafka.TCP(g.cfg.Brokers...), Timeout: 2 * time.Second}
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, c := range claims {
		req.Topics[g.cfg.Topic] = append(req.Topics[g.cfg.Topic], kafka.LastOffsetOf(c.Partition))
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	res, err := g.ends.ListOffsets(ctx, req)
	if err != nil {
		return
	}
	byPartition := map[int]*Claim{}
	for _, c := range claims {
		byPartition[c.Partition] = c
	}
	for _, po := range res.Topics[g.cfg.Topic] {
		if c := byPartition[po.Partition]; c != nil && po.Error == nil {
			c.seen(po.LastOffset)
		}
	}
}

// runPartition fetches one partition and feeds the handler in batches
// until fctx ends, then revokes it once ctx (the generation) ended too.
func (g *GroupConsumer) runPartition(ctx, fctx context.Context, c *Claim) error {
	// Callbacks finish their work even when the generation ends under them:
	// a half-done batch would only be replayed.
	hctx := context.WithoutCancel(ctx)
	c.done = ctx.Done()
	if err := g.h.Assigned(hctx, c); err != nil {
		close(c.stopped)
		return fmt.Errorf("assign %s/%d: %w", c.Topic, c.Partition, err)
	}
	herr := g.consume(fctx, hctx, c)
	close(c.stopped)
	if herr == nil && ctx.Err() == nil {
		// Fetching stopped first: a graceful stop drains the tracked
		// batches (runGeneration) before the generation ends.
		<-ctx.Done()
		if err := c.Failure(); err != nil {
			// A tracked batch failed while draining.
			herr = fmt.Errorf("%s/%d: %w", c.Topic, c.Partition, err)
		}
	}
	rctx, rcancel := context.WithTimeout(hctx, g.cfg.RevokeTimeout)
	defer rcancel()
	if err := g.h.Revoked(rctx, c); err != nil {
		herr = errors.Join(herr, fmt.Errorf("revoke %s/%d: %w", c.Topic, c.Partition, err))
	}
	return herr
}

func (g *GroupConsumer) consume(ctx, hctx context.Context, c *Claim) error {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        g.cfg.Brokers,
		Topic:          c.Topic,
		Partition:      c.Partition,
		MinBytes:       1,
		MaxBytes:       8 << 20,
		MaxWait:        g.cfg.MaxWait,
		QueueCapacity:  g.cfg.MaxBatch,
		IsolationLevel: kafka.ReadUncommitted,
		Dialer:         g.cfg.dialer,
		// kafka-go reports here, among others, a committed offset that
		// retention already deleted: it skips to the first offset.
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			g.log.Warn().Int("partition", c.Partition).Msgf("kafka-go reader: "+msg, args...)
		}),
	})
	defer r.Close()
	if err := r.SetOffset(c.start); err != nil {
		return fmt.Errorf("seek %s/%d to %d: %w", c.Topic, c.Partition, c.start, err)
	}
	fctx, fcancel := context.WithCancel(ctx)
	msgs := make(chan kafka.Message, g.cfg.MaxBatch)
	var fetchErr error
	fetched := make(chan struct{})
	go func() {
		defer close(fetched)
		defer close(msgs)
		for {
			m, err := r.FetchMessage(fctx)
			if err != nil {
				if fctx.Err() == nil {
					fetchErr = fmt.Errorf("fetch %s/%d: %w", c.Topic, c.Partition, err)
				}
				return
			}
			select {
			case msgs <- m:
			case <-fctx.Done():
				return
			}
		}
	}()
	defer func() {
		fcancel()
		<-fetched
	}()
	failed := c.failure()
	for {
		if ctx.Err() != nil {
			return nil // no batch after the fetching stopped
		}
		var m kafka.Message
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case <-failed:
			return fmt.Errorf("%s/%d: %w", c.Topic, c.Partition, c.Failure())
		case m, ok = <-msgs:
		}
		if !ok {
			<-fetched
			return fetchErr
		}
		batch := make([]kafka.Message, 1, g.cfg.MaxBatch)
		batch[0] = m
	drain:
		for len(batch) < g.cfg.MaxBatch {
			select {
			case m, ok := <-msgs:
				if !ok {
					break drain
				}
				batch = append(batch, m)
			default:
				break drain
			}
		}
		last := batch[len(batch)-1]
		c.lag.Store(max(0, last.HighWaterMark-last.Offset-1))
		c.seen(last.HighWaterMark)
		if c.committed.Load() < 0 {
			// Never committed: count from the first message fetched.
			c.committed.CompareAndSwap(-1, batch[0].Offset)
		}
		if err := g.h.Handle(hctx, c, fromKafka(batch)); err != nil {
			return fmt.Errorf("handle %s/%d offsets %d-%d: %w", c.Topic, c.Partition, batch[0].Offset, last.Offset, err)
		}
	}
}

func partitionsOf(claims []*Claim) []int {
	out := make([]int, len(claims))
	for i, c := range claims {
		out[i] = c.Partition
	}
	return out
}

func joinProblems(p []string) string {
	s := ""
	for i, x := range p {
		if i > 0 {
			s += "; "
		}
		s += x
	}
	return s
}
