package scorer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/internal/bearer"
	"github.com/scorebridge/scorebridge/internal/dialect"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
)

// Options configure the scorer service.
type Options struct {
	Brokers        []string
	EventsTopic    string
	CrossingsTopic string
	DLQTopic       string
	ChangelogTopic string // default: EventsTopic + "-scorer-state"
	ScoresTopic    string // compacted lead-scores topic; empty: none published
	Partitions     int    // for topics the service creates
	Group          string
	Rules          []string
	ClickHouse     string // DSN; empty: no touch history
	HTTP           string
	// APIToken guards /contacts/{id}/score and /companies/{id}/score;
	// required when HTTP is not a loopback address (bearer.Require). Never
	// logged.
	APIToken string
	StateDir string
	Accept   TimeWindow // occurred_at accepted; the rest is dead-lettered
	// CompaniesTopic carries contacts' member changes keyed by company_id
	// (default EventsTopic + "-companies"); used only when the rules have
	// company models, as are the company group (Group + "-companies") and
	// its changelog (CompaniesTopic + "-state").
	CompaniesTopic string
	// CompanyScoresTopic is the compacted company-scores topic (every
	// company's current scores, keyed by company_id), with company models
	// only; empty: none published.
	CompanyScoresTopic string
	Log                zerolog.Logger
	// Ready, when set, is called once the service consumes.
	Ready func(addr string)
}

// MaxBatch is the most events the scorer handles, and saves, as one batch
// (kafkabench uses it too). 10,000 writes a third fewer states (a contact
// changed twice in a batch is saved once) but saved no CPU kafkabench
// could tell from noise, and buffers five times the messages.
const MaxBatch = 2000

// HistoryWriterOptions are the ClickHouse writer's settings for the touch
// history (kafkabench uses them too). Inserts are as large as the batches
// in flight allow (up to 200,000 rows a table per INSERT): with the
// batches pipelined, an insert carries every row scored while the
// previous one ran, and its cost on the server is mostly per insert and
// per monthly partition touched, not per row: each flush lingers up to
// 100 ms for more batches to join it (measured on ClickHouse 18.16:
// inserts of 2,000 events cost the server 23-30 µs an event, of 20,000
// events 8).
var HistoryWriterOptions = analytics.WriterOptions{BatchSize: 200_000, Linger: 100 * time.Millisecond}

// closeTimeout bounds the ClickHouse writer's last flush at stop: rows
// still unwritten belong to batches that were not committed, which the
// next start replays, so waiting longer buys nothing.
const closeTimeout = 3 * time.Second

// Service is a running scorer.
type Service struct {
	opts Options
	// processor, consumer and store are set before started; the HTTP
	// handlers, which run from the start, use them only once it is true.
	processor *Processor
	consumer  *stream.GroupConsumer
	companies *companyService // nil without company models
	store     *analytics.Store
	started   atomic.Bool
	ready     atomic.Bool

	writer       atomic.Pointer[analytics.Writer]
	eraser       atomic.Pointer[analytics.Eraser] // privacy erasures, retried through outages
	waitingSince atomic.Pointer[time.Time]        // ClickHouse unreachable at start
}

// openClickHouse connects, waiting with backoff while ClickHouse is down
// (each failure logged and counted, /readyz saying so), and starts the
// writer. closeStore stops the writer within closeTimeout whatever
// ClickHouse does, then closes the connection.
func (s *Service) openClickHouse(ctx context.Context, m *Metrics, addr string) (*analytics.Writer, func(), error) {
	log := s.opts.Log
	defer s.waitingSince.Store(nil)
	store, err := analytics.OpenWaiting(ctx, s.opts.ClickHouse, 5*time.Second, func(err error, wait time.Duration) {
		if s.waitingSince.Load() == nil {
			now := time.Now()
			s.waitingSince.Store(&now)
		}
		m.Errors.WithLabelValues("clickhouse").Inc()
		log.Warn().Err(err).Dur("retry_in", wait).Str("http", addr).Msg("ClickHouse unavailable at start; waiting for it (scoring starts once it answers)")
	})
	if err != nil {
		return nil, nil, fmt.Errorf("clickhouse: %w", err)
	}
	s.store = store
	opts := HistoryWriterOptions
	opts.Logger = &log
	opts.OnError = func(string, error) { m.Errors.WithLabelValues("clickhouse").Inc() }
	w := store.NewWriter(opts)
	s.writer.Store(w)
	// A privacy deletion's erasure waits for ClickHouse as the inserts
	// do: its batch's offset is not committed until it succeeded, and a
	// stop or a rebalance ends the wait (processor.durable's context).
	s.eraser.Store(store.NewEraser(analytics.EraserOptions{Logger: &log,
		OnError: func(error) { m.Errors.WithLabelValues("clickhouse").Inc() }}))
	closeStore := func() {
		cctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if err := w.Close(cctx); err != nil {
			log.Warn().Err(err).Msg("ClickHouse rows not written at stop: their batches were not committed; the next start replays them")
		}
		store.Close()
	}
	return w, closeStore, nil
}

// sinkFailingSince is when ClickHouse began failing (inserts, pings,
// erasures, or the connection at start); zero while healthy or not
// configured.
func (s *Service) sinkFailingSince() time.Time {
	if t := s.waitingSince.Load(); t != nil {
		return *t
	}
	var since time.Time
	if w := s.writer.Load(); w != nil {
		since = w.Stats().FailingSince
	}
	if e := s.eraser.Load(); e != nil {
		if t, _ := e.Failing(); !t.IsZero() && (since.IsZero() || t.Before(since)) {
			since = t
		}
	}
	return since
}

// erasureFailing says, for /readyz, why an erasure waits; "" when none
// does.
func (s *Service) erasureFailing() string {
	e := s.eraser.Load()
	if e == nil {
		return ""
	}
	since, err := e.Failing()
	if since.IsZero() {
		return ""
	}
	return fmt.Sprintf("ClickHouse failing for %s (erasing a privacy deletion; last error: %v): its batch waits for it, offsets are not committed", time.Since(since).Round(time.Second), err)
}

// Run starts the scorer and blocks until ctx ends or a fatal error.
// SIGHUP and changes to the rule files reload the rules.
func Run(ctx context.Context, o Options) error {
	if err := bearer.Require(o.HTTP, o.APIToken, "--api-token", "SCORER_API_TOKEN"); err != nil {
		return fmt.Errorf("http: %w", err)
	}
	if o.ChangelogTopic == "" {
		o.ChangelogTopic = o.EventsTopic + "-scorer-state"
	}
	log := o.Log
	if err := o.Accept.Validate(); err != nil {
		return err
	}
	set, err := rules.Load(o.Rules...)
	if err != nil {
		return fmt.Errorf("rules:\n%w", err)
	}
	engine, err := scoring.NewEngine(set)
	if err != nil {
		return err
	}
	if err := stream.EnsureTopics(ctx, o.Brokers, stream.Topic{Name: o.EventsTopic, Partitions: o.Partitions}); err != nil {
		return fmt.Errorf("kafka %v: %w", o.Brokers, err)
	}
	parts, err := stream.Partitions(ctx, o.Brokers, o.EventsTopic)
	if err != nil {
		return err
	}
	// The changelog must have the events topic's partition count so a
	// contact's state lives in the partition number of its events.
	err = stream.EnsureTopics(ctx, o.Brokers,
		stream.Topic{Name: o.CrossingsTopic, Partitions: parts},
		stream.Topic{Name: o.DLQTopic, Partitions: 1},
		stream.Topic{Name: o.ChangelogTopic, Partitions: parts, Compacted: true},
	)
	if err == nil && o.ScoresTopic != "" {
		err = stream.EnsureTopics(ctx, o.Brokers, stream.Topic{Name: o.ScoresTopic, Partitions: parts, Compacted: true})
	}
	if err != nil {
		return err
	}
	if err := changelogFollows(ctx, o.Brokers, o.ChangelogTopic, o.EventsTopic, parts); err != nil {
		return err
	}
	s := &Service{opts: o}
	if len(set.Companies) > 0 {
		if s.companies, err = newCompanyTopics(ctx, &o, parts); err != nil {
			return err
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := NewMetrics(reg, func() float64 {
		if !s.started.Load() {
			return 0
		}
		return float64(s.consumer.Lag())
	})
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "scorer_clickhouse_failing_seconds",
			Help: "How long ClickHouse inserts, idle pings, privacy erasures (or, at start, connecting) have been failing; 0 while healthy or without --clickhouse.",
		}, func() float64 {
			if since := s.sinkFailingSince(); !since.IsZero() {
				return time.Since(since).Seconds()
			}
			return 0
		}),
		// Partitions without a live owner show as sum(scorer_partitions_owned)
		// below scorer_events_partitions for longer than a rebalance.
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "scorer_partitions_owned", Help: "Events partitions this instance owns now (0 while it joins or rebalances).",
		}, func() float64 {
			if !s.started.Load() {
				return 0
			}
			return float64(len(s.consumer.Assignment()))
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "scorer_events_partitions", Help: "Partitions of the events topic, which the group's instances should own between them.",
		}, func() float64 { return float64(parts) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "scorer_clickhouse_buffered_rows",
			Help: "Touch, ledger, crossing and company score rows waiting for ClickHouse or being inserted.",
		}, func() float64 {
			if w := s.writer.Load(); w != nil {
				return float64(w.Stats().Buffered)
			}
			return 0
		}),
	)

	// HTTP first: /healthz answers, and /readyz says why the scorer is not
	// ready, while it waits for ClickHouse.
	ln, err := net.Listen("tcp", o.HTTP)
	if err != nil {
		return fmt.Errorf("http %s: %w (is another scorer running? choose another with --http)", o.HTTP, err)
	}
	srv := &http.Server{Handler: bearer.Guard(s.routes(reg), o.APIToken, bearer.Open...), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		srv.Shutdown(c)
	}()

	var recorder Recorder = Discard{}
	if o.ClickHouse != "" {
		w, closeStore, err := s.openClickHouse(ctx, metrics, ln.Addr().String())
		if err != nil {
			if ctx.Err() != nil {
				log.Info().Msg("scorer stopped while waiting for ClickHouse")
				return nil
			}
			return err
		}
		defer closeStore()
		recorder = w
	} else {
		log.Warn().Msg("no --clickhouse: scoring and crossings work; the touch history and reports are off")
	}
	producers := map[string]*stream.Producer{}
	// The events topic's producer forwards events that arrived outside
	// their home partition.
	topics := []string{o.CrossingsTopic, o.DLQTopic, o.ChangelogTopic, o.EventsTopic}
	if o.ScoresTopic != "" {
		topics = append(topics, o.ScoresTopic)
	}
	for _, t := range topics {
		p, err := stream.NewProducer(stream.ProducerConfig{Brokers: o.Brokers, Topic: t})
		if err != nil {
			return err
		}
		defer p.Close()
		producers[t] = p
	}
	var scores Producer
	if o.ScoresTopic != "" {
		scores = producers[o.ScoresTopic]
	}
	var members *Members
	if s.companies != nil {
		var closeAll func()
		if members, closeAll, err = s.companies.start(o, set, producers[o.CrossingsTopic], s.eraser.Load(), s.writer.Load(), reg); err != nil {
			return err
		}
		defer closeAll()
	}
	s.processor = NewProcessor(Config{
		Brokers: o.Brokers, Changelog: o.ChangelogTopic, Topic: o.EventsTopic, StateDir: o.StateDir,
		Crossings: producers[o.CrossingsTopic], DeadLetters: producers[o.DLQTopic], States: producers[o.ChangelogTopic],
		Partitions: parts, Forward: producers[o.EventsTopic], Accept: o.Accept,
		Recorder: recorder, Metrics: metrics, Log: log, Scores: scores, ScoresTopic: o.ScoresTopic, Erase: s.erase(), Members: members,
	}, engine)
	s.consumer, err = stream.NewGroupConsumer(stream.GroupConfig{
		Brokers: o.Brokers, Group: o.Group, Topic: o.EventsTopic, MaxBatch: MaxBatch, Log: &log,
	}, s.processor)
	if err != nil {
		return err
	}
	s.started.Store(true)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.watchRules(ctx, metrics)

	log.Info().Strs("brokers", o.Brokers).Str("topic", o.EventsTopic).Int("partitions", parts).Str("group", o.Group).
		Str("rule_version", set.Version).Str("http", ln.Addr().String()).Bool("api_token", o.APIToken != "").Msg("scorer running")
	s.ready.Store(true)
	if o.Ready != nil {
		o.Ready(ln.Addr().String())
	}
	if s.companies != nil {
		err = s.companies.run(ctx, cancel, s.consumer.Run)
	} else {
		err = s.consumer.Run(ctx)
	}
	s.ready.Store(false)
	if err != nil {
		return err
	}
	log.Info().Msg("scorer stopped: offsets committed, state saved")
	return nil
}

func (s *Service) routes(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case s.waitingSince.Load() != nil:
			http.Error(w, fmt.Sprintf("waiting for ClickHouse since %s: scoring starts once it answers", s.waitingSince.Load().Format(time.RFC3339)), http.StatusServiceUnavailable)
		case !s.ready.Load():
			http.Error(w, "not consuming", http.StatusServiceUnavailable)
		case s.erasureFailing() != "":
			http.Error(w, s.erasureFailing(), http.StatusServiceUnavailable)
		case s.writer.Load() != nil && !s.writer.Load().Stats().FailingSince.IsZero():
			st := s.writer.Load().Stats()
			http.Error(w, fmt.Sprintf("ClickHouse failing for %s (last error: %v): batches wait for it, offsets are not committed", time.Since(st.FailingSince).Round(time.Second), st.LastErr), http.StatusServiceUnavailable)
		case !s.consumer.InGeneration():
			http.Error(w, "joining the consumer group (or rebalancing)", http.StatusServiceUnavailable)
		case s.processor.Restoring() > 0:
			http.Error(w, fmt.Sprintf("restoring %d partitions", s.processor.Restoring()), http.StatusServiceUnavailable)
		default:
			fmt.Fprintf(w, "ok: partitions %v\n", s.consumer.Assignment())
		}
	})
	mux.HandleFunc("GET /contacts/{id}/score", s.score)
	mux.HandleFunc("GET /companies/{id}/score", s.companyScore)
	return mux
}

// crossingTimesTimeout bounds the ClickHouse part of a score read.
const crossingTimesTimeout = time.Second

// score answers GET /contacts/{id}/score?model=M[&as_of=T] with the JSON of
// a backtest line (an array of lines without model=).
func (s *Service) score(w http.ResponseWriter, r *http.Request) {
	if !s.started.Load() {
		httpError(w, http.StatusServiceUnavailable, "starting: no partition is held yet")
		return
	}
	id := r.PathValue("id")
	var asOf time.Time
	if v := r.URL.Query().Get("as_of"); v != "" {
		t, err := dialect.ParseTime(v) // as the studio's as_of and --as-of take it
		if err != nil {
			httpError(w, http.StatusBadRequest, "as_of "+err.Error())
			return
		}
		if err := s.processor.cfg.Accept.CheckAsOf(t); err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		asOf = t
	}
	lines, latest, ok := s.processor.ScoreOf(id, asOf)
	if !ok {
		httpError(w, http.StatusNotFound, fmt.Sprintf("contact %q is not held by this instance (unknown, or its partition is owned by another instance)", id))
		return
	}
	if !asOf.IsZero() && asOf.Before(latest) {
		httpError(w, http.StatusUnprocessableEntity, fmt.Sprintf("as_of %s is before the contact's latest event (%s): the live state answers from then on; use `scorer backtest --as-of` on the history", asOf.Format(time.RFC3339), latest.Format(time.RFC3339)))
		return
	}
	// The score comes from memory; only the crossing times come from
	// ClickHouse, skipped while it fails and bounded otherwise, so an
	// outage never holds a score read.
	crossings := s.store != nil && s.sinkFailingSince().IsZero()
	for i := range lines {
		lines[i].Crossings = []time.Time{}
		if !crossings {
			continue
		}
		cctx, cancel := context.WithTimeout(r.Context(), crossingTimesTimeout)
		times, err := s.store.CrossingTimes(cctx, id, lines[i].Model)
		cancel()
		if err != nil {
			crossings = false
			continue
		}
		lines[i].Crossings = times
	}
	if s.store != nil && !crossings {
		w.Header().Set("X-Scorer-Crossings", "unavailable: ClickHouse is failing")
	}
	w.Header().Set("Content-Type", "application/json")
	model := r.URL.Query().Get("model")
	if model == "" {
		json.NewEncoder(w).Encode(lines)
		return
	}
	for _, l := range lines {
		if l.Model == model {
			json.NewEncoder(w).Encode(l)
			return
		}
	}
	httpError(w, http.StatusNotFound, fmt.Sprintf("no model %q", model))
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// watchRules reloads the rules on SIGHUP and when a rule file changes. A
// new version is compiled and validated first; an invalid one leaves the
// running version in place and logs every problem.
func (s *Service) watchRules(ctx context.Context, m *Metrics) {
	log := s.opts.Log
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var changes <-chan fsnotify.Event
	if w, err := fsnotify.NewWatcher(); err != nil {
		log.Warn().Err(err).Msg("cannot watch rule files: reload with SIGHUP")
	} else {
		defer w.Close()
		for _, p := range s.opts.Rules {
			// Watch directories: editors replace files by renaming.
			dir := p
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				dir = filepath.Dir(p)
			}
			if err := w.Add(dir); err != nil {
				log.Warn().Err(err).Str("path", dir).Msg("cannot watch rules")
			}
		}
		changes = w.Events
	}
	var debounce <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			s.reload(ctx, m, "SIGHUP")
		case ev := <-changes:
			if filepath.Ext(ev.Name) == ".yaml" || filepath.Ext(ev.Name) == ".yml" {
				debounce = time.After(300 * time.Millisecond)
			}
		case <-debounce:
			s.reload(ctx, m, "file change")
		}
	}
}

func (s *Service) reload(ctx context.Context, m *Metrics, why string) {
	log := s.opts.Log
	set, err := rules.Load(s.opts.Rules...)
	var engine *scoring.Engine
	if err == nil {
		engine, err = scoring.NewEngine(set)
	}
	if err != nil {
		m.Reloads.WithLabelValues("invalid").Inc()
		var ps rules.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				log.Error().Str("file", p.File).Int("line", p.Line).Str("group", p.Group).Msg(p.Msg)
			}
		}
		log.Error().Err(err).Str("trigger", why).Str("rule_version", s.processor.Engine().Rules.Version).
			Msg("new rules are invalid: keeping the running version")
		return
	}
	if set.Version == s.processor.Engine().Rules.Version {
		return
	}
	if s.companies == nil && len(set.Companies) > 0 {
		// The company topics and group start with the service, and the
		// member trackers and company states must be built from the
		// history first: started now, they would know only the events
		// from now on.
		m.Reloads.WithLabelValues("invalid").Inc()
		log.Error().Str("trigger", why).Str("rule_version", s.processor.Engine().Rules.Version).Str("refused_version", set.Version).
			Msg("new rules add the first company model, which a reload cannot start: keeping the running version. " +
				"Stop the scorers, run scorer rescore --apply with the new rules (it builds the member trackers and company states from the history), then start them with the new rules")
		return
	}
	old := s.processor.Engine().Rules.Version
	s.processor.SetEngine(engine)
	if s.companies != nil && s.companies.aggregator != nil {
		s.companies.aggregator.SetRules(set)
	}
	m.Reloads.WithLabelValues("ok").Inc()
	log.Info().Str("trigger", why).Str("from", old).Str("rule_version", set.Version).Msg("rules reloaded")
	// Held contacts' lead-scores messages follow the new rules now, not
	// at their next event.
	n, err := s.processor.Republish(ctx)
	if err != nil {
		log.Error().Err(err).Int("republished", n).Str("rule_version", set.Version).
			Msg("lead-scores not republished for every contact after the reload: those keep the older message until their next event")
		return
	}
	log.Info().Int("republished", n).Str("rule_version", set.Version).Msg("lead-scores republished under the new rules")
}
