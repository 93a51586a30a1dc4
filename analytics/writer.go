package analytics

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/rs/zerolog"
)

// ErrWriterClosed is returned by Add after Close.
var ErrWriterClosed = errors.New("analytics writer is closed")

// WriterOptions tune a Writer. Zero values take the defaults.
type WriterOptions struct {
	// BatchSize rows of one table trigger a flush and bound one INSERT
	// (default 50,000: ClickHouse wants large batches).
	BatchSize int
	// FlushInterval bounds how long a row waits before a flush (default 1 s).
	FlushInterval time.Duration
	// MaxBuffered rows (waiting plus in flight) make Add block, so a
	// ClickHouse outage pushes back on the producer instead of growing
	// memory without bound (default 8 x BatchSize).
	MaxBuffered int
	// MaxRetryInterval caps the backoff between attempts (default 5 s).
	// Attempts never stop by themselves: only Close's context ends them.
	MaxRetryInterval time.Duration
	// InsertTimeout bounds one INSERT attempt (default 60 s).
	InsertTimeout time.Duration
	// Logger gets a warning per failed attempt, with the wait before the
	// next one, and a line when an insert succeeds after failures.
	Logger *zerolog.Logger
	// OnError, when set, is called after every failed INSERT attempt
	// and every failed idle ping (table "ping"), for an error counter; it
	// must not block.
	OnError func(table string, err error)
	// Linger is the least time between the starts of two flushes, unless
	// BatchSize rows of a table are waiting: rows a Flush asks for wait
	// up to this long for more to join their INSERT. ClickHouse's cost is
	// mostly per INSERT (a part per table and monthly partition, merged
	// later), so a pipelined caller that flushes every small batch gets
	// far cheaper inserts for a little latency (default 0: at once).
	Linger time.Duration
	// PingInterval: when nothing was inserted for this long, the writer
	// pings ClickHouse, so an outage with no traffic shows as a failed
	// insert would (Stats.FailingSince, OnError, a warning) and clears
	// when it answers again (default 5 s).
	PingInterval time.Duration
}

func (o WriterOptions) withDefaults() WriterOptions {
	if o.BatchSize <= 0 {
		o.BatchSize = 50_000
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Second
	}
	if o.MaxBuffered <= 0 {
		o.MaxBuffered = 8 * o.BatchSize
	}
	if o.MaxRetryInterval <= 0 {
		o.MaxRetryInterval = 5 * time.Second
	}
	if o.InsertTimeout <= 0 {
		o.InsertTimeout = 60 * time.Second
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 5 * time.Second
	}
	if o.Logger == nil {
		l := zerolog.Nop()
		o.Logger = &l
	}
	return o
}

// WriterStats counts rows; Durable <= Added always.
type WriterStats struct {
	Added    uint64 // rows accepted by Add
	Durable  uint64 // rows ClickHouse acknowledged
	Buffered int    // rows waiting or in flight
	Retries  uint64 // failed INSERT attempts
	Inserts  uint64 // INSERTs ClickHouse acknowledged
	LastErr  error  // the latest failed attempt's error, nil after a success
	// FailingSince is when the current run of failed attempts began; zero
	// once an attempt succeeds.
	FailingSince time.Time
}

// Writer batches rows of every table and inserts them in the background,
// by size and by time, retrying with backoff until ClickHouse accepts. It
// never drops a row: a caller that must not lose data (a Kafka consumer
// committing offsets) calls Flush, which returns nil only once every row
// added before the call is stored. A retried INSERT may store a batch twice
// (the first attempt may have landed); the tables' ReplacingMergeTree keys
// and the reports' de-duplication make that harmless.
type Writer struct {
	db   db
	opts WriterOptions
	log  *zerolog.Logger

	mu       sync.Mutex
	bufs     []buffer // one per table, in insertion order
	buffered int      // rows waiting plus in flight
	added    uint64
	durable  uint64
	retries  uint64
	inserts  uint64
	lastErr  error
	failing  time.Time // first failure of the current run of failures
	lastTalk time.Time // last insert or ping attempt: pings only when idle
	closed   bool
	progress chan struct{} // closed and replaced whenever durable moves or the writer closes

	kick   chan struct{}
	full   chan struct{} // a table has BatchSize rows: no lingering
	cancel context.CancelFunc
	done   chan struct{}

	touches       *tableBuf[Touch]
	ledger        *tableBuf[LedgerRow]
	crossings     *tableBuf[CrossingRow]
	decisions     *tableBuf[Decision]
	apiCalls      *tableBuf[APICall]
	enrollments   *tableBuf[EnrollmentEvent]
	companyScores *tableBuf[CompanyScoreRow]
	lastStamp     time.Time // rows are stamped strictly after it
}

// buffer is one table's waiting rows, type-erased for the flusher.
type buffer interface {
	size() int
	take() chunk
}

// chunk is rows taken out of a buffer for one flush.
type chunk struct {
	release func() // hands the rows' array back for reuse
	table   string
	columns []string
	n       int
	build   func(lo, hi int) []any
}

type tableBuf[R any] struct {
	def  tableDef[R]
	rows []R
	// spare is the array of the last rows inserted, emptied, for the
	// next rows: the buffer does not grow from nothing every flush.
	spare []R
	// cols are the column slices of the last insert (the driver copies
	// them), reused by the next: one flush of a table at a time uses them.
	cols []any
}

func (b *tableBuf[R]) size() int { return len(b.rows) }

func (b *tableBuf[R]) take() chunk {
	rows := b.rows
	b.rows, b.spare = b.spare[:0], nil
	return chunk{table: b.def.name, columns: b.def.columnNames(), n: len(rows),
		build: func(lo, hi int) []any {
			b.cols = b.def.columns(rows[lo:hi], b.cols)
			return b.cols
		},
		// Under the writer's lock, once the rows are stored.
		release: func() {
			clearColumns(b.cols) // no strings kept alive
			if b.spare == nil {
				clear(rows)
				b.spare = rows[:0]
			}
		}}
}

// NewWriter starts a writer into the store's database.
func (s *Store) NewWriter(opts WriterOptions) *Writer { return newWriter(s.db, opts) }

func newWriter(d db, opts WriterOptions) *Writer {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writer{
		db: d, opts: opts, log: opts.Logger,
		progress: make(chan struct{}),
		kick:     make(chan struct{}, 1),
		full:     make(chan struct{}, 1),
		cancel:   cancel,
		done:     make(chan struct{}),
	}
	w.touches = &tableBuf[Touch]{def: touchTable}
	w.ledger = &tableBuf[LedgerRow]{def: ledgerTable}
	w.crossings = &tableBuf[CrossingRow]{def: crossingTable}
	w.decisions = &tableBuf[Decision]{def: decisionTable}
	w.apiCalls = &tableBuf[APICall]{def: apiCallTable}
	w.enrollments = &tableBuf[EnrollmentEvent]{def: enrollmentTable}
	w.companyScores = &tableBuf[CompanyScoreRow]{def: companyScoreTable}
	w.bufs = []buffer{w.touches, w.ledger, w.crossings, w.decisions, w.apiCalls, w.enrollments, w.companyScores}
	go w.run(ctx)
	return w
}

// AddTouches buffers touches. Like every Add, it blocks while MaxBuffered
// rows are waiting (ClickHouse slow or down) and fails only after Close.
func (w *Writer) AddTouches(rows ...Touch) error { return add(w, w.touches, rows) }

// AddLedger buffers score ledger rows.
func (w *Writer) AddLedger(rows ...LedgerRow) error { return add(w, w.ledger, rows) }

// AddCrossings buffers crossings.
func (w *Writer) AddCrossings(rows ...CrossingRow) error { return add(w, w.crossings, rows) }

// AddDecisions buffers bridge decisions.
func (w *Writer) AddDecisions(rows ...Decision) error { return add(w, w.decisions, rows) }

// AddAPICalls buffers bridge API audit rows.
func (w *Writer) AddAPICalls(rows ...APICall) error { return add(w, w.apiCalls, rows) }

// AddEnrollmentEvents buffers sequence enrollment events.
func (w *Writer) AddEnrollmentEvents(rows ...EnrollmentEvent) error {
	return add(w, w.enrollments, rows)
}

// AddCompanyScores buffers company score changes (the scorer's company
// aggregator).
func (w *Writer) AddCompanyScores(rows ...CompanyScoreRow) error {
	return add(w, w.companyScores, rows)
}

func add[R any](w *Writer, b *tableBuf[R], rows []R) error {
	if len(rows) == 0 {
		return nil
	}
	now := time.Now()
	w.mu.Lock()
	for !w.closed && w.buffered > 0 && w.buffered+len(rows) > w.opts.MaxBuffered {
		ch := w.progress
		w.mu.Unlock()
		w.signal()
		<-ch
		w.mu.Lock()
	}
	if w.closed {
		w.mu.Unlock()
		return ErrWriterClosed
	}
	start := len(b.rows)
	b.rows = append(b.rows, rows...)
	// Each row a nanosecond after the last, so the version orders rows as
	// they were added, within a call and across calls.
	now = now.Round(0) // wall clock only: the version is its UnixNano
	if !now.After(w.lastStamp) {
		now = w.lastStamp.Add(time.Nanosecond)
	}
	for i := start; i < len(b.rows); i++ {
		b.def.stamp(&b.rows[i], now)
		w.lastStamp = now
		now = now.Add(time.Nanosecond)
	}
	w.buffered += len(rows)
	w.added += uint64(len(rows))
	full := len(b.rows) >= w.opts.BatchSize
	w.mu.Unlock()
	if full {
		select {
		case w.full <- struct{}{}:
		default:
		}
		w.signal()
	}
	return nil
}

func (w *Writer) signal() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Flush blocks until every row added before the call is stored in
// ClickHouse, retrying through outages, or until ctx ends. Only a nil
// return means the rows are durable.
func (w *Writer) Flush(ctx context.Context) error {
	w.mu.Lock()
	target := w.added
	w.mu.Unlock()
	w.signal()
	for {
		w.mu.Lock()
		durable, closed, ch, lastErr := w.durable, w.closed, w.progress, w.lastErr
		w.mu.Unlock()
		if durable >= target {
			return nil
		}
		if closed {
			return fmt.Errorf("flush: %d rows not written: %w", target-durable, ErrWriterClosed)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("flush: %d rows not yet written (last error: %v): %w", target-durable, lastErr, ctx.Err())
			}
			return fmt.Errorf("flush: %d rows not yet written: %w", target-durable, ctx.Err())
		}
	}
}

// Close flushes within ctx and stops the writer. Rows still unwritten when
// ctx ends are reported in the error, never silently dropped.
func (w *Writer) Close(ctx context.Context) error {
	err := w.Flush(ctx)
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.progress)
		w.progress = make(chan struct{})
	}
	w.mu.Unlock()
	w.cancel()
	// An attempt stuck on a server that accepts and never answers may
	// not notice the cancellation: never wait past ctx for it.
	select {
	case <-w.done:
	case <-ctx.Done():
	}
	return err
}

// Stats reports the writer's counters.
func (w *Writer) Stats() WriterStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return WriterStats{Added: w.added, Durable: w.durable, Buffered: w.buffered, Retries: w.retries, Inserts: w.inserts, LastErr: w.lastErr, FailingSince: w.failing}
}

func (w *Writer) run(ctx context.Context) {
	defer close(w.done)
	t := time.NewTicker(w.opts.FlushInterval)
	defer t.Stop()
	var last time.Time // the start of the last flush
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		case <-t.C:
		}
		if wait := w.opts.Linger - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-w.full:
			case <-time.After(wait):
			}
		}
		select {
		case <-w.full:
		default:
		}
		last = time.Now()
		if err := w.flushOnce(ctx); err != nil {
			return // only when ctx ended: Close gave up
		}
		w.pingIfIdle(ctx)
	}
}

// pingIfIdle pings ClickHouse when nothing talked to it for PingInterval:
// without traffic, an outage would go unseen until the next insert. A
// failed ping counts as a failed insert attempt; an answer ends the run
// of failures.
func (w *Writer) pingIfIdle(ctx context.Context) {
	w.mu.Lock()
	idle := time.Since(w.lastTalk) >= w.opts.PingInterval
	if idle {
		w.lastTalk = time.Now()
	}
	wasFailing := w.failing
	w.mu.Unlock()
	if !idle {
		return
	}
	// Bounded: a flush waiting behind a hung ping waits no longer.
	pctx, cancel := context.WithTimeout(ctx, min(w.opts.PingInterval, 5*time.Second))
	err := w.db.ping(pctx)
	cancel()
	if ctx.Err() != nil {
		return // stopping: not ClickHouse's failure
	}
	w.mu.Lock()
	if err != nil {
		err = fmt.Errorf("ping: %w", err)
		w.retries++
		if w.failing.IsZero() {
			w.failing = time.Now()
		}
	} else {
		w.failing = time.Time{}
	}
	w.lastErr = err
	failing := w.failing
	w.mu.Unlock()
	switch {
	case err != nil:
		if w.opts.OnError != nil {
			w.opts.OnError("ping", err)
		}
		w.log.Warn().Err(err).Dur("failing_for", time.Since(failing).Round(time.Millisecond)).
			Dur("retry_in", w.opts.PingInterval).Msg("ClickHouse does not answer (idle ping); retrying")
	case !wasFailing.IsZero():
		w.log.Info().Dur("failed_for", time.Since(wasFailing).Round(time.Millisecond)).Msg("ClickHouse answers again (idle ping)")
	}
}

// flushOnce writes everything buffered now. It returns only when all of it
// is stored or ctx ended.
func (w *Writer) flushOnce(ctx context.Context) error {
	w.mu.Lock()
	target := w.added
	var chunks []chunk
	n := 0
	for _, b := range w.bufs {
		if b.size() > 0 {
			c := b.take()
			n += c.n
			chunks = append(chunks, c)
		}
	}
	w.mu.Unlock()
	if n == 0 {
		return nil
	}
	// One table per connection at once: the server works on them in
	// parallel, and a flush costs its slowest table, not the sum.
	errs := make([]error, len(chunks))
	var wg sync.WaitGroup
	for i, c := range chunks {
		wg.Go(func() {
			for lo := 0; lo < c.n; lo += w.opts.BatchSize {
				hi := min(lo+w.opts.BatchSize, c.n)
				if err := w.insertRetrying(ctx, c.table, c.columns, c.build(lo, hi), hi-lo); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	w.mu.Lock()
	for _, c := range chunks {
		c.release()
	}
	w.durable = target
	w.buffered -= n
	close(w.progress)
	w.progress = make(chan struct{})
	w.mu.Unlock()
	return nil
}

func (w *Writer) insertRetrying(ctx context.Context, table string, columns []string, data []any, n int) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 50 * time.Millisecond
	b.MaxInterval = w.opts.MaxRetryInterval
	b.MaxElapsedTime = 0 // never give up by time: rows must not be dropped
	attempt := 0
	op := func() error {
		attempt++
		actx, cancel := context.WithTimeout(ctx, w.opts.InsertTimeout)
		defer cancel()
		err := w.db.insert(actx, table, columns, data)
		w.mu.Lock()
		w.lastTalk = time.Now()
		if err != nil {
			w.retries++
			if w.failing.IsZero() {
				w.failing = time.Now()
			}
		} else {
			w.failing = time.Time{}
			w.inserts++
		}
		w.lastErr = err
		w.mu.Unlock()
		if err != nil && w.opts.OnError != nil {
			w.opts.OnError(table, err)
		}
		return err
	}
	notify := func(err error, wait time.Duration) {
		w.log.Warn().Err(err).Str("table", table).Int("rows", n).Int("attempt", attempt).
			Dur("retry_in", wait).Msg("ClickHouse insert failed; retrying")
	}
	err := backoff.RetryNotify(op, backoff.WithContext(b, ctx), notify)
	if err == nil && attempt > 1 {
		w.log.Info().Str("table", table).Int("rows", n).Int("attempts", attempt).Msg("ClickHouse insert succeeded after retries")
	}
	return err
}
