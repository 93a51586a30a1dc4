package analytics

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/internal/tcpcut"
)

// proxied is a fresh test database reached through a proxy the test can
// cut: an outage of the shared server without stopping it.
func proxied(t *testing.T) (*tcpcut.Proxy, string) {
	t.Helper()
	dsn := testDSN(t)
	p, via := tcpcut.Through(t, dsn)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if s, err := Open(ctx, dsn); err == nil {
			s.DropDatabase(ctx)
			s.Close()
		}
	})
	return p, via
}

// A service started while ClickHouse is down waits for it, retrying with
// backoff and saying so, instead of failing; it stops waiting when told
// to; a DSN no retry can fix fails at once.
func TestOpenWaitsForClickHouse(t *testing.T) {
	p, dsn := proxied(t)
	p.Set(tcpcut.Refuse)
	var mu sync.Mutex
	var waits []time.Duration
	notify := func(err error, wait time.Duration) {
		mu.Lock()
		waits = append(waits, wait)
		mu.Unlock()
	}
	failures := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(waits)
	}
	type result struct {
		s   *Store
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := OpenWaiting(context.Background(), dsn, 200*time.Millisecond, notify)
		done <- result{s, err}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for failures() < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case r := <-done:
		t.Fatalf("OpenWaiting returned while ClickHouse was down: %v", r.err)
	default:
	}
	if failures() < 3 {
		t.Fatalf("%d failed attempts reported in 10 s", failures())
	}
	p.Set(tcpcut.Up)
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		r.s.Close()
	case <-time.After(15 * time.Second):
		t.Fatal("OpenWaiting did not return once ClickHouse was back")
	}
	mu.Lock()
	// The i-th wait is min(100 ms * 1.5^i, 200 ms) with the library's
	// default ±50% jitter, so compare each with its own band (comparing
	// two waits with each other fails whenever jitter crosses them).
	next := 100 * time.Millisecond
	for i, w := range waits {
		if w < next/2 || w > next*3/2 {
			t.Errorf("wait %d is %v, want %v ± 50%% (waits %v)", i, w, next, waits)
		}
		next = min(next*3/2, 200*time.Millisecond)
	}
	mu.Unlock()

	// Cancelled while down: returns at once with the context's error.
	p.Set(tcpcut.Refuse)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(300 * time.Millisecond); cancel() }()
	start := time.Now()
	_, err := OpenWaiting(ctx, dsn, time.Second, nil)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 3*time.Second {
		t.Errorf("cancelled wait: %v after %v", err, time.Since(start))
	}

	start = time.Now()
	if _, err := OpenWaiting(context.Background(), "http://127.0.0.1:1/x", 0, nil); err == nil || time.Since(start) > time.Second {
		t.Errorf("an HTTP DSN: %v after %v, want an error at once", err, time.Since(start))
	}
}

// While inserts fail, the writer says so (Stats.FailingSince, OnError per
// attempt, naming the table) and holds the rows; once ClickHouse is back
// they are stored and the failure clears.
func TestWriterReportsAnOutage(t *testing.T) {
	p, dsn := proxied(t)
	ctx := context.Background()
	s, err := Open(ctx, dsn)
	must(t, err)
	defer s.Close()
	var mu sync.Mutex
	failed := map[string]int{}
	w := s.NewWriter(WriterOptions{FlushInterval: 20 * time.Millisecond, MaxRetryInterval: 100 * time.Millisecond,
		OnError: func(table string, err error) {
			mu.Lock()
			failed[table]++
			mu.Unlock()
		}})
	defer w.Close(ctx)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	must(t, w.AddTouches(touchN(1, base)))
	must(t, w.Flush(ctx))
	if st := w.Stats(); !st.FailingSince.IsZero() || st.LastErr != nil {
		t.Fatalf("healthy: %+v", st)
	}

	p.Set(tcpcut.Refuse)
	cut := time.Now()
	must(t, w.AddTouches(touchN(2, base)))
	fctx, cancel := context.WithTimeout(ctx, time.Second)
	err = w.Flush(fctx)
	cancel()
	if err == nil {
		t.Fatal("Flush returned nil while ClickHouse was down")
	}
	st := w.Stats()
	if st.FailingSince.Before(cut) || st.LastErr == nil || st.Durable >= st.Added {
		t.Fatalf("during the outage: %+v", st)
	}
	mu.Lock()
	if failed["touches"] < 2 {
		t.Errorf("OnError saw %v, want several failed touches inserts", failed)
	}
	mu.Unlock()
	if !strings.Contains(err.Error(), "not yet written") {
		t.Errorf("Flush error %q does not say rows are waiting", err)
	}

	p.Set(tcpcut.Up)
	fctx, cancel = context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	must(t, w.Flush(fctx))
	if st := w.Stats(); !st.FailingSince.IsZero() || st.LastErr != nil || st.Durable != st.Added {
		t.Fatalf("after the outage: %+v", st)
	}
	if n := countRows(t, s, "SELECT uniqExact(event_id) FROM touches"); n != 2 {
		t.Fatalf("%d touches stored, want 2", n)
	}
}

// With nothing to insert, an outage still shows: the writer pings when
// idle, and a failed ping is reported as a failed insert is (FailingSince,
// LastErr, OnError, a warning); the answer after it clears them.
func TestWriterIdlePingReportsAnOutage(t *testing.T) {
	p, dsn := proxied(t)
	ctx := context.Background()
	s, err := Open(ctx, dsn)
	must(t, err)
	defer s.Close()
	var mu sync.Mutex
	failed := map[string]int{}
	var logs strings.Builder
	log := zerolog.New(&syncWriter{w: &logs, mu: &mu})
	w := s.NewWriter(WriterOptions{FlushInterval: 20 * time.Millisecond, PingInterval: 50 * time.Millisecond, Logger: &log,
		OnError: func(table string, err error) {
			mu.Lock()
			failed[table]++
			mu.Unlock()
		}})
	defer w.Close(ctx)
	time.Sleep(200 * time.Millisecond)
	if st := w.Stats(); !st.FailingSince.IsZero() || st.LastErr != nil {
		t.Fatalf("healthy and idle: %+v", st)
	}

	cut := time.Now()
	p.Set(tcpcut.Refuse)
	deadline := time.Now().Add(10 * time.Second)
	for w.Stats().FailingSince.IsZero() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	st := w.Stats()
	if st.FailingSince.Before(cut) || st.LastErr == nil || st.Retries == 0 {
		t.Fatalf("idle during the outage: %+v, want it failing", st)
	}
	mu.Lock()
	if failed["ping"] == 0 || !strings.Contains(logs.String(), "ClickHouse does not answer (idle ping); retrying") {
		t.Errorf("OnError saw %v; log %q: want the failed ping counted and logged", failed, logs.String())
	}
	mu.Unlock()

	p.Set(tcpcut.Up)
	deadline = time.Now().Add(10 * time.Second)
	for !w.Stats().FailingSince.IsZero() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := w.Stats(); !st.FailingSince.IsZero() || st.LastErr != nil {
		t.Fatalf("after the outage: %+v, want it cleared", st)
	}
	mu.Lock()
	if !strings.Contains(logs.String(), "ClickHouse answers again (idle ping)") {
		t.Errorf("no line saying ClickHouse answers again: %q", logs.String())
	}
	mu.Unlock()
}

type syncWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// An erasure during an outage waits for ClickHouse instead of failing:
// it retries with backoff, saying so (Failing, OnError per attempt, a
// warning with the wait), and once ClickHouse is back it succeeds, the
// rows are gone and the failure clears. Its caller stopping ends the wait
// at once, also while ClickHouse accepts and never answers.
func TestEraserWaitsForClickHouse(t *testing.T) {
	p, dsn := proxied(t)
	ctx := context.Background()
	s, err := Open(ctx, dsn)
	must(t, err)
	defer s.Close()
	addContactRows(t, s, "9311")
	addContactRows(t, s, "9312")
	var mu sync.Mutex
	failed := 0
	var logs strings.Builder
	log := zerolog.New(&syncWriter{w: &logs, mu: &mu})
	e := s.NewEraser(EraserOptions{MaxRetryInterval: 100 * time.Millisecond, Logger: &log,
		OnError: func(error) {
			mu.Lock()
			failed++
			mu.Unlock()
		}})
	failures := func() int {
		mu.Lock()
		defer mu.Unlock()
		return failed
	}

	p.Set(tcpcut.Refuse)
	cut := time.Now()
	done := make(chan error, 1)
	go func() { done <- e.EraseContacts(ctx, "9311") }()
	deadline := time.Now().Add(10 * time.Second)
	for failures() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("EraseContacts returned while ClickHouse was down: %v", err)
	default:
	}
	since, lastErr := e.Failing()
	if failures() < 3 || since.Before(cut) || lastErr == nil {
		t.Fatalf("during the outage: %d failed attempts, failing since %v (cut at %v), last error %v", failures(), since, cut, lastErr)
	}
	mu.Lock()
	if !strings.Contains(logs.String(), "ClickHouse erasure failed; retrying") || !strings.Contains(logs.String(), `"retry_in"`) {
		t.Errorf("no warning with the backoff: %q", logs.String())
	}
	mu.Unlock()

	p.Set(tcpcut.Up)
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("EraseContacts did not return 30 s after ClickHouse came back")
	}
	if since, lastErr := e.Failing(); !since.IsZero() || lastErr != nil {
		t.Errorf("after the outage: failing since %v, last error %v", since, lastErr)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	must(t, s.WaitMutations(wctx))
	left, err := s.ContactRows(wctx, "9311")
	must(t, err)
	for table, n := range left {
		if n != 0 {
			t.Errorf("%d rows of 9311 left in %s", n, table)
		}
	}
	if kept, _ := s.ContactRows(wctx, "9312"); kept["touches"] == 0 {
		t.Errorf("9312's rows were erased: %v", kept)
	}

	// A stop while ClickHouse hangs: the wait ends with the context, and
	// nothing is left failing.
	p.Set(tcpcut.Hang)
	sctx, stop := context.WithCancel(ctx)
	go func() { done <- e.EraseCompanyScores(sctx, "9312") }()
	time.Sleep(300 * time.Millisecond)
	stopped := time.Now()
	stop()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("EraseCompanyScores stopped: %v, want context.Canceled", err)
		}
		if took := time.Since(stopped); took > 5*time.Second {
			t.Errorf("EraseCompanyScores returned %v after its context ended", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("EraseCompanyScores did not return 10 s after its context ended, ClickHouse hanging")
	}
	if since, _ := e.Failing(); !since.IsZero() {
		t.Errorf("nothing waits any more, yet failing since %v", since)
	}
	p.Set(tcpcut.Up)
}
