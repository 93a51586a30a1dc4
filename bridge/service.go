package bridge

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/enrollment"
	"github.com/scorebridge/scorebridge/internal/bearer"
	"github.com/scorebridge/scorebridge/stream"
	"github.com/scorebridge/scorebridge/writeback"
)

// Options are `bridge run`'s settings; cmd/bridge maps flags and
// environment to them, tests build them directly.
type Options struct {
	Brokers    []string
	Topic      string
	DLQ        string
	Group      string
	Partitions int // for the crossings topic, only if it must be created
	ClickHouse string
	HTTP       string
	// APIToken guards /decisions and /quota; required when HTTP is not a loopback
	// address (bearer.Require). Never logged.
	APIToken string
	Config   string
	StateDir string
	Workers  int
	Tick     time.Duration // held releases, workflow-exit retries, outbox
	Grace    time.Duration // in-flight calls get this long after SIGTERM
	Retain   time.Duration // processed crossings and the local audit
	MaxBatch int

	// Seams for tests and the benchmark.
	Log       io.Writer
	Transport http.RoundTripper // HubSpot client's transport
	Consumer  func(*stream.GroupConfig)
	OnReady   func(httpAddr string)
}

// Run runs the bridge until ctx ends, then shuts down gracefully:
// stop fetching, let calls in flight finish (up to Grace), commit what is
// durable, flush the audit, close.
func Run(ctx context.Context, o Options) error {
	if err := bearer.Require(o.HTTP, o.APIToken, "--api-token", "BRIDGE_API_TOKEN"); err != nil {
		return fmt.Errorf("http: %w", err)
	}
	o.defaults()
	log := zerolog.New(o.Log).With().Timestamp().Str("service", "bridge").Logger()
	cfg, err := enrollment.LoadConfig(o.Config)
	if err != nil {
		return err
	}
	store, err := enrollment.OpenStore(o.StateDir)
	if err != nil {
		return err
	}
	defer store.Close()

	// The work context outlives ctx by Grace, so calls in flight finish.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stopGrace := context.AfterFunc(ctx, func() {
		time.AfterFunc(o.Grace, cancelWork)
	})
	defer stopGrace()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var consumer atomic.Pointer[stream.GroupConsumer]
	metrics := enrollment.NewServiceMetrics(reg, func() float64 {
		if g := consumer.Load(); g != nil {
			return float64(g.Lag())
		}
		return 0
	})

	// HTTP first, so /healthz answers while the bridge waits for
	// ClickHouse and recovers; /decisions answers once the audit is open.
	h := &handler{stop: ctx, log: log}
	var recovered atomic.Bool
	var audits atomic.Pointer[analytics.Writer] // the ClickHouse audit's, once open
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "bridge_clickhouse_failing_seconds",
		Help: "How long the ClickHouse audit writer's inserts or idle pings have been failing; 0 while healthy or without --clickhouse.",
	}, func() float64 {
		if w := audits.Load(); w != nil {
			if since := w.Stats().FailingSince; !since.IsZero() {
				return time.Since(since).Seconds()
			}
		}
		return 0
	}))
	web, err := serveHTTP(o, reg, log, func() string {
		return notReady(ctx, o.ClickHouse != "", audits.Load(), recovered.Load(), h.consuming.Load())
	}, quotaFrom(cfg, store, time.Now))
	if err != nil {
		return err
	}
	defer web.shutdown()

	a, err := openAudit(ctx, o.ClickHouse, store, metrics, log, web.addr)
	if err != nil {
		if o.ClickHouse != "" && ctx.Err() != nil {
			log.Info().Msg("bridge stopped while waiting for ClickHouse")
			return nil
		}
		return err
	}
	defer a.close()
	if a.writer != nil {
		audits.Store(a.writer)
	}
	web.setDecisions(decisionsFrom(a.ch, a.local))

	if err := recoverCalls(store, log); err != nil {
		return err
	}
	sink, err := newSink(cfg, a.startHook(metrics), metrics.AuditHook(a.apiRow), o.Transport)
	if err != nil {
		return err
	}
	// The one retry loop of sink calls; the client makes one attempt each.
	bridge := enrollment.NewBridge(cfg, store, metrics.MeterSink(sink), a.recorder, time.Now, enrollment.Retry{})
	// The service logs every decision (with sequence_id or workflow_id);
	// the bridge's own line would repeat it.

	dlq, err := stream.NewProducer(stream.ProducerConfig{Brokers: o.Brokers, Topic: o.DLQ})
	if err != nil {
		return err
	}
	defer dlq.Close()
	svc := &enrollment.Service{Bridge: bridge, Metrics: metrics, Log: log, Workers: o.Workers, Work: work,
		DeadLetter: func(ctx context.Context, m enrollment.Message, reason string) error {
			return stream.SendDeadLetter(ctx, dlq, m.Raw.(stream.Record), reason)
		}}
	h.svc = svc

	if err := stream.EnsureTopics(ctx, o.Brokers,
		stream.Topic{Name: o.Topic, Partitions: max(1, o.Partitions)},
		stream.Topic{Name: o.DLQ, Partitions: 1}); err != nil {
		return fmt.Errorf("topics: %w", err)
	}
	if err := svc.Recover(work); err != nil {
		return fmt.Errorf("recover interrupted crossings: %w", err)
	}
	recovered.Store(true)

	gcfg := stream.GroupConfig{Brokers: o.Brokers, Group: o.Group, Topic: o.Topic, MaxBatch: o.MaxBatch, Log: &log}
	if o.Consumer != nil {
		o.Consumer(&gcfg)
	}
	g, err := stream.NewGroupConsumer(gcfg, h)
	if err != nil {
		return err
	}
	consumer.Store(g)

	wb, err := newWriteback(ctx, cfg, sink, a.ch, reg, log)
	if err != nil {
		return err
	}
	log.Info().Strs("brokers", o.Brokers).Str("topic", o.Topic).Str("group", o.Group).
		Str("http", web.addr).Bool("api_token", o.APIToken != "").Str("sink", cfg.Sink).Bool("clickhouse", a.ch != nil).Msg("bridge running")
	if o.OnReady != nil {
		o.OnReady(web.addr)
	}
	runErr := consume(ctx, g, wb, o, func(ctx context.Context) { maintain(ctx, svc, o, a.local) }, log)

	// Whatever was decided goes to the audit before exit.
	fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := bridge.FlushOutbox(fctx, 1000); err != nil {
		log.Warn().Err(err).Msg("audit outbox not flushed; it is kept for the next start")
	}
	a.flush(fctx, log)
	log.Info().Msg("bridge stopped")
	return runErr
}

// notReady is why /readyz answers 503, "" when the bridge is ready. A
// failing ClickHouse audit writer (inserts, or its idle ping: see
// analytics.WriterOptions.PingInterval) makes it unready as it does the
// scorer: decisions go on, but their audit rows wait in the outbox.
func notReady(ctx context.Context, withClickHouse bool, w *analytics.Writer, recovered, consuming bool) string {
	switch {
	case ctx.Err() != nil:
		return "stopping"
	case withClickHouse && w == nil:
		return "waiting for ClickHouse: the bridge consumes once it answers"
	case !recovered:
		return "recovering the crossings a stop interrupted"
	}
	if w != nil {
		if st := w.Stats(); !st.FailingSince.IsZero() {
			return fmt.Sprintf("ClickHouse failing for %s (last error: %v): decisions go on, their audit rows wait in the outbox",
				time.Since(st.FailingSince).Round(time.Second), st.LastErr)
		}
	}
	if !consuming {
		return "not consuming yet: no partition assigned"
	}
	return ""
}

func (o *Options) defaults() {
	if o.Log == nil {
		o.Log = os.Stderr
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 100
	}
	if o.Tick <= 0 {
		o.Tick = 2 * time.Second
	}
	if o.Retain <= 0 {
		o.Retain = 30 * 24 * time.Hour
	}
}

// consume runs the group consumer, the periodic work and the write-back
// until ctx ends or the write-back fails for good, which stops the bridge.
func consume(ctx context.Context, g *stream.GroupConsumer, wbs []*writeback.Writer, o Options, maintain func(context.Context), log zerolog.Logger) error {
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	wbErrs := make([]error, len(wbs))
	var wg sync.WaitGroup
	wg.Go(func() { maintain(runCtx) })
	for i, wb := range wbs {
		wg.Go(func() {
			if wbErrs[i] = wb.Run(runCtx, o.Brokers); wbErrs[i] != nil {
				log.Error().Err(wbErrs[i]).Str("object", wb.Object()).Msg("write-back stopped: stopping the bridge")
				stopRun()
			}
		})
	}
	runErr := g.Run(runCtx)
	stopRun()
	wg.Wait()
	for i, err := range wbErrs {
		if runErr == nil && err != nil {
			runErr = fmt.Errorf("write-back of %s: %w", wbs[i].Object(), err)
		}
	}
	return runErr
}

// maintain runs the periodic work until ctx ends: held releases and
// workflow-exit retries on one ticker, the audit flush on another (so slow
// sink calls never hold up the audit), pruning at start and daily.
func maintain(ctx context.Context, svc *enrollment.Service, o Options, local *enrollment.LocalAudit) {
	var wg sync.WaitGroup
	defer wg.Wait()
	every := func(what enrollment.ErrorKind, fn func(context.Context) error) {
		tick := time.NewTicker(o.Tick)
		defer tick.Stop()
		for {
			if err := fn(svc.Work); err != nil {
				svc.Metrics.Count(what)
				svc.Log.Warn().Err(err).Msg(string(what) + " failed; retried next tick")
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}
	wg.Go(func() { every(enrollment.ErrFlush, svc.Flush) })
	wg.Go(func() { every(enrollment.ErrRelease, svc.Release) })
	var lastPrune time.Time
	every(enrollment.ErrPrune, func(context.Context) error {
		if time.Since(lastPrune) < 24*time.Hour {
			return nil
		}
		lastPrune = time.Now()
		return svc.Prune(lastPrune, o.Retain, local)
	})
}
