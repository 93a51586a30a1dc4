package kafkabench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/scorebridge/scorebridge/stream"
	"github.com/scorebridge/scorebridge/stream/baseline"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Pipeline is the system under test: it consumes topic in as a member of
// group, processes, produces its results to out and commits, until ctx
// ends. The bench counts it done when group's committed offsets reach the
// end of in, so it must commit (at least when it has caught up). Topics
// it creates should be named out-*: the bench deletes them with out.
type Pipeline func(ctx context.Context, brokers []string, in, out, group string) error

// Config shapes a throughput run.
type Config struct {
	Brokers    []string
	Events     int    // default 1,000,000
	Partitions int    // of the bench topics, default 6
	Source     Source // default SyntheticEvents(1, 100_000)
	// Pipeline adds the end-to-end row; PipelineName labels it.
	Pipeline     Pipeline
	PipelineName string
	// More pipelines add rows after it, each run over the same events in
	// every round, interleaved with the others; the report gives each
	// one's ratio to the first pipeline row too (e.g. the scorer with
	// ClickHouse against the scorer without it).
	More []NamedPipeline
	// Keep leaves the bench topics on the broker; by default they are
	// deleted so a persisted broker does not grow with every run.
	Keep bool
	// ProduceBatch is the most records per batch the events are written
	// with (default 2000). Consumers read a log of small batches more
	// slowly: a live source at a modest rate writes batches of a few
	// records, so try 10 to see that case.
	ProduceBatch int
	// Rounds repeats the consumer rows, interleaved; rates are the
	// median round's (default 1).
	Rounds int
	// Timeout bounds each row (default 5 minutes).
	Timeout time.Duration
	Log     io.Writer // progress lines; nil: none
}

// NamedPipeline is a pipeline and the name of its row.
type NamedPipeline struct {
	Name     string
	Pipeline Pipeline
}

// Row is one measured step, over one or more rounds.
type Row struct {
	Name     string
	Messages int             // per round
	Elapsed  time.Duration   // the median round
	Runs     []time.Duration // every round, in order
	// CPU is the process's CPU time in every round, in order: with an
	// embedded broker its work is included, and so is other work of the
	// process (the progress of the previous row's shutdown, GC).
	CPU []time.Duration
}

// CPUPerMessage is the median round's CPU time per message.
func (r Row) CPUPerMessage() time.Duration {
	if len(r.CPU) == 0 || r.Messages <= 0 {
		return 0
	}
	sorted := slices.Clone(r.CPU)
	slices.Sort(sorted)
	return sorted[len(sorted)/2] / time.Duration(r.Messages)
}

// Rate is messages per second in the median round.
func (r Row) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Messages) / r.Elapsed.Seconds()
}

func (r *Report) add(name string, n int, d, cpu time.Duration) {
	for i := range r.Rows {
		if r.Rows[i].Name == name {
			row := &r.Rows[i]
			row.Runs = append(row.Runs, d)
			row.CPU = append(row.CPU, cpu)
			sorted := slices.Clone(row.Runs)
			slices.Sort(sorted)
			row.Elapsed = sorted[len(sorted)/2]
			return
		}
	}
	r.Rows = append(r.Rows, Row{Name: name, Messages: n, Elapsed: d, Runs: []time.Duration{d}, CPU: []time.Duration{cpu}})
}

// Report is the result of Run.
type Report struct {
	Events       int
	Partitions   int
	ProduceBatch int
	Rows         []Row
	// Baseline names the row ratios are taken against.
	Baseline string
	// FirstPipeline names the first pipeline row: later pipeline rows
	// are compared with it as well.
	FirstPipeline string
	pipelines     map[string]bool
}

// Print writes the rows and each consumer's ratio to the baseline.
func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "%d events, %d partitions, produced in batches of up to %d; rates of the median round\n", r.Events, r.Partitions, r.ProduceBatch)
	var base float64
	for _, row := range r.Rows {
		if row.Name == r.Baseline {
			base = row.Rate()
		}
	}
	for _, row := range r.Rows {
		ratio := ""
		if base > 0 && row.Name != r.Baseline && row.Name != rowProduce && row.Name != rowGenerate {
			ratio = fmt.Sprintf("  %.2fx %s", row.Rate()/base, r.Baseline)
		}
		if first, ok := r.row(r.FirstPipeline); ok && r.pipelines[row.Name] && row.Name != first.Name && first.Rate() > 0 {
			ratio += fmt.Sprintf("  %.2fx %s", row.Rate()/first.Rate(), first.Name)
		}
		spread := ""
		if len(row.Runs) > 1 {
			lo, hi := slices.Min(row.Runs), slices.Max(row.Runs)
			spread = fmt.Sprintf("  (%d rounds: %.0f-%.0f)", len(row.Runs), float64(row.Messages)/hi.Seconds(), float64(row.Messages)/lo.Seconds())
		}
		fmt.Fprintf(w, "  %-50s %9d msgs %8.2fs %10.0f msgs/s %6.2f µs CPU/msg%s%s\n", row.Name, row.Messages, row.Elapsed.Seconds(), row.Rate(),
			float64(row.CPUPerMessage().Nanoseconds())/1000, ratio, spread)
	}
}

func (r Report) row(name string) (Row, bool) {
	for _, row := range r.Rows {
		if row.Name == name {
			return row, true
		}
	}
	return Row{}, false
}

const (
	rowGenerate   = "generate events (source, in memory)"
	rowProduce    = "produce (kafka-go Writer, acks=all)"
	rowKafkaGo    = "kafka-go group Reader, raw"
	rowGroupCons  = "stream.GroupConsumer, raw (marks commits)"
	rowKgo        = "franz-go kgo group consumer, raw"
	defaultEvents = 1_000_000
)

func (c *Config) defaults() error {
	if len(c.Brokers) == 0 {
		return errors.New("bench: no brokers")
	}
	if c.Events <= 0 {
		c.Events = defaultEvents
	}
	if c.Partitions <= 0 {
		c.Partitions = 6
	}
	if c.Source == nil {
		c.Source = SyntheticEvents(1, 100_000)
	}
	if c.ProduceBatch <= 0 {
		c.ProduceBatch = 2000
	}
	if c.Rounds <= 0 {
		c.Rounds = 1
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Minute
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.Pipeline != nil && c.PipelineName == "" {
		c.PipelineName = "pipeline end to end"
	}
	for i, p := range c.More {
		if p.Pipeline == nil || p.Name == "" {
			return fmt.Errorf("bench: pipeline %d has no name or no pipeline", i+1)
		}
	}
	return nil
}

// Run produces cfg.Events events to a fresh topic, then consumes them
// with each client in turn, each in a fresh group, and, with a Pipeline,
// runs it over the same events.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.defaults(); err != nil {
		return Report{}, err
	}
	stamp := time.Now().UnixNano()
	in := fmt.Sprintf("bench-events-%d", stamp)
	out := fmt.Sprintf("bench-out-%d", stamp)
	rep := Report{Events: cfg.Events, Partitions: cfg.Partitions, ProduceBatch: cfg.ProduceBatch, Baseline: rowKafkaGo, pipelines: map[string]bool{}}
	var pipes []NamedPipeline
	if cfg.Pipeline != nil {
		pipes = append(pipes, NamedPipeline{cfg.PipelineName, cfg.Pipeline})
	}
	pipes = append(pipes, cfg.More...)
	for _, p := range pipes {
		rep.pipelines[p.Name] = true
	}
	if len(pipes) > 0 {
		rep.FirstPipeline = pipes[0].Name
	}
	if err := stream.EnsureTopics(ctx, cfg.Brokers, stream.Topic{Name: in, Partitions: cfg.Partitions}); err != nil {
		return rep, err
	}
	if !cfg.Keep {
		defer deleteTopics(cfg.Brokers, in)
	}

	step := func(name string, fn func(context.Context) (int, error)) error {
		fmt.Fprintf(cfg.Log, "running: %s ...\n", name)
		sctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
		// The previous row's garbage (a scorer's contacts) is collected
		// now, not billed to this row as GC work.
		runtime.GC()
		start, cpu0 := time.Now(), processCPU()
		var n int
		var err error
		// The label follows every goroutine the row starts, so a CPU
		// profile of the run separates the rows: go tool pprof
		// -tagfocus 'row=scorer' (the embedded broker's work is unlabelled).
		pprof.Do(sctx, pprof.Labels("row", name), func(ctx context.Context) { n, err = fn(ctx) })
		elapsed, cpu := time.Since(start), processCPU()-cpu0
		if err != nil {
			return fmt.Errorf("%s: %w (after %d messages)", name, err, n)
		}
		rep.add(name, n, elapsed, cpu)
		fmt.Fprintf(cfg.Log, "  %d msgs in %.2fs: %.0f msgs/s\n", n, elapsed.Seconds(), float64(n)/elapsed.Seconds())
		return nil
	}
	var msgs []stream.Record
	if err := step(rowGenerate, func(context.Context) (int, error) {
		var err error
		msgs, err = generate(cfg)
		return len(msgs), err
	}); err != nil {
		return rep, err
	}
	if err := step(rowProduce, func(ctx context.Context) (int, error) {
		return produceAll(ctx, cfg.Brokers, in, msgs, cfg.ProduceBatch)
	}); err != nil {
		return rep, err
	}
	msgs = nil
	// Rounds interleave the consumers so a burst of load from elsewhere
	// on the machine does not land on one row only.
	for round := 0; round < cfg.Rounds; round++ {
		group := func(kind string) string { return fmt.Sprintf("bench-%s-%d-%d", kind, stamp, round) }
		if err := step(rowKafkaGo, func(ctx context.Context) (int, error) {
			return baseline.ConsumeGroupReader(ctx, cfg.Brokers, in, group("kafkago"), cfg.Events)
		}); err != nil {
			return rep, err
		}
		if err := step(rowGroupCons, func(ctx context.Context) (int, error) {
			return consumeGroupConsumer(ctx, cfg.Brokers, in, group("groupconsumer"), cfg.Events)
		}); err != nil {
			return rep, err
		}
		if err := step(rowKgo, func(ctx context.Context) (int, error) {
			return consumeKgo(ctx, cfg.Brokers, in, group("kgo"), cfg.Events)
		}); err != nil {
			return rep, err
		}
		for i, p := range pipes {
			// Each round's pipeline writes to its own output topic.
			out := fmt.Sprintf("%s-%d-%d", out, round, i)
			if err := stream.EnsureTopics(ctx, cfg.Brokers, stream.Topic{Name: out, Partitions: cfg.Partitions}); err != nil {
				return rep, err
			}
			if !cfg.Keep {
				defer deleteTopics(cfg.Brokers, out)
			}
			if err := step(p.Name, func(ctx context.Context) (int, error) {
				return runPipeline(ctx, cfg, p.Pipeline, in, out, group(fmt.Sprintf("pipeline%d", i)))
			}); err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

// generate runs the source into memory so the produce row measures Kafka
// alone.
func generate(cfg Config) ([]stream.Record, error) {
	msgs := make([]stream.Record, 0, cfg.Events)
	err := cfg.Source(cfg.Events, func(key string, value []byte) error {
		msgs = append(msgs, stream.Record{Key: []byte(key), Value: value})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("event source: %w", err)
	}
	return msgs, nil
}

// produceAll writes the events in large synchronous calls.
func produceAll(ctx context.Context, brokers []string, topic string, msgs []stream.Record, batch int) (int, error) {
	p, err := stream.NewProducer(stream.ProducerConfig{Brokers: brokers, Topic: topic, BatchSize: batch})
	if err != nil {
		return 0, err
	}
	defer p.Close()
	const chunk = 20_000
	n := 0
	for len(msgs) > 0 {
		k := min(chunk, len(msgs))
		if err := p.Write(ctx, msgs[:k]...); err != nil {
			return n, err
		}
		n += k
		msgs = msgs[k:]
	}
	return n, nil
}

// countHandler marks every batch done: the cost of the wrapper itself.
type countHandler struct {
	n chan int
}

func (h *countHandler) Assigned(context.Context, *stream.Claim) error { return nil }
func (h *countHandler) Revoked(context.Context, *stream.Claim) error  { return nil }
func (h *countHandler) Handle(_ context.Context, c *stream.Claim, msgs []stream.Record) error {
	c.Commit(msgs[len(msgs)-1].Offset + 1)
	h.n <- len(msgs)
	return nil
}

func consumeGroupConsumer(ctx context.Context, brokers []string, topic, group string, want int) (int, error) {
	h := &countHandler{n: make(chan int, 64)}
	gc, err := stream.NewGroupConsumer(stream.GroupConfig{Brokers: brokers, Group: group, Topic: topic, MaxBatch: 1000}, h)
	if err != nil {
		return 0, err
	}
	gctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- gc.Run(gctx) }()
	n := 0
	for n < want {
		select {
		case k := <-h.n:
			n += k
		case err := <-done:
			cancel()
			if err == nil {
				err = ctx.Err()
			}
			return n, err
		}
	}
	cancel()
	go func() {
		for range h.n { // unblock handlers still sending while Run winds down
		}
	}()
	err = <-done
	close(h.n)
	return n, err
}

func consumeKgo(ctx context.Context, brokers []string, topic, group string, want int) (int, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(250*time.Millisecond),
	)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	n := 0
	for n < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return n, err
		}
		for _, fe := range fs.Errors() {
			return n, fmt.Errorf("kgo fetch %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		n += fs.NumRecords()
	}
	return n, nil
}

// runPipeline runs the pipeline until its group has committed the end of
// every partition of in; it returns how many messages it consumed.
func runPipeline(ctx context.Context, cfg Config, pipe Pipeline, in, out, group string) (int, error) {
	admin := stream.NewAdmin(cfg.Brokers)
	defer admin.Close()
	end, err := admin.EndOffsets(ctx, in, cfg.Partitions)
	if err != nil {
		return 0, err
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- pipe(pctx, cfg.Brokers, in, out, group) }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err == nil {
				err = errors.New("pipeline returned before committing the whole input")
			}
			return 0, err
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
		committed, err := admin.CommittedOffsets(ctx, group, in, cfg.Partitions)
		if err != nil {
			continue // the group may not exist yet
		}
		caughtUp := true
		for p, e := range end {
			if committed[p] < e {
				caughtUp = false
			}
		}
		if caughtUp {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				return cfg.Events, fmt.Errorf("pipeline on shutdown: %w", err)
			}
			return cfg.Events, nil
		}
	}
}

// processCPU is the user and system CPU time the process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// deleteTopics deletes the topics and those a pipeline named after them
// (name-*, e.g. the scorer's changelog).
func deleteTopics(brokers []string, topics ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin := stream.NewAdmin(brokers)
	defer admin.Close()
	if all, err := admin.Topics(ctx); err == nil {
		for _, t := range all {
			for _, name := range topics {
				if strings.HasPrefix(t, name+"-") {
					topics = append(topics, t)
					break
				}
			}
		}
	}
	_ = admin.DeleteTopics(ctx, topics...)
}
