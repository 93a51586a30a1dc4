package analytics

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func touchN(i int, at time.Time) Touch {
	return Touch{
		EventID: fmt.Sprintf("e%07d", i), ContactID: fmt.Sprintf("c%04d", i%500), Type: "page_view",
		Channel: "web", OccurredAt: at.Add(time.Duration(i) * time.Second), Properties: `{"channel":"web"}`,
	}
}

// Rows of every kind must arrive with their values intact, through size and
// time triggered flushes alike.
func TestWriterFlushesAllTables(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	w := s.NewWriter(WriterOptions{BatchSize: 100, FlushInterval: 50 * time.Millisecond})
	base := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
	for i := 0; i < 1050; i++ { // 10 size-triggered batches and a remainder for the timer
		if err := w.AddTouches(touchN(i, base)); err != nil {
			t.Fatal(err)
		}
	}
	must(t, w.AddLedger(LedgerRow{ContactID: "c1", Model: "m", EventID: "e1", Group: "g", Points: 5_000_000, Delta: 4_500_000, OccurredAt: base}))
	must(t, w.AddCrossings(CrossingRow{CrossingID: "x1", ContactID: "c1", Model: "m", ThresholdName: "mql", Threshold: 50 * MicroPoints, Score: 51 * MicroPoints, CrossedAt: base, EventID: "e1"}))
	must(t, w.AddDecisions(Decision{DecisionID: "d1", CrossingID: "x1", ContactID: "c1", Outcome: "enrolled", DecidedAt: base}))
	must(t, w.AddAPICalls(APICall{CallID: "a1", ContactID: "c1", Method: "POST", Path: "/x", Status: 200, At: base}))
	must(t, w.AddEnrollmentEvents(EnrollmentEvent{EventID: "n1", ContactID: "c1", SequenceID: "9001", Kind: KindEnrolled, At: base}))
	// The timer alone must flush the remainder: wait for it without Flush.
	deadline := time.Now().Add(5 * time.Second)
	for w.Stats().Durable < 1055 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if st := w.Stats(); st.Durable != 1055 || st.Buffered != 0 {
		t.Fatalf("after the flush interval: %+v, want 1055 durable", st)
	}
	must(t, w.Close(ctx))
	for table, want := range map[string]uint64{"touches": 1050, "score_ledger": 1, "crossings": 1, "decisions": 1, "api_calls": 1, "enrollment_events": 1} {
		if got := countRows(t, s, "SELECT count() FROM "+table); got != want {
			t.Errorf("%s: %d rows, want %d", table, got, want)
		}
	}
	// Sub-second precision survives in the _us column.
	if got := countRows(t, s, "SELECT toUInt64(occurred_us) FROM touches WHERE event_id = 'e0000000'"); got != uint64(base.UnixMicro()) {
		t.Errorf("occurred_us = %d, want %d", got, base.UnixMicro())
	}
	if got := countRows(t, s, "SELECT toUInt64(sum(delta)) FROM score_ledger"); got != 4_500_000 {
		t.Errorf("ledger delta = %d", got)
	}
	if err := w.AddTouches(touchN(1, base)); err != ErrWriterClosed {
		t.Errorf("Add after Close = %v, want ErrWriterClosed", err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// privateServer starts a ClickHouse server of our own through
// scripts/clickhouse.sh, so the test can stop it without disturbing the
// shared one. It returns the script runner and the DSN.
func privateServer(t *testing.T) (func(cmd string), string) {
	t.Helper()
	if _, err := exec.LookPath("clickhouse-server"); err != nil {
		t.Skip("clickhouse-server not installed: run scripts/clickhouse.sh start once")
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "scripts", "clickhouse.sh")
	tcp, http := freePort(t), freePort(t)
	env := append(os.Environ(), "CH_DIR="+t.TempDir(), "CH_TCP_PORT="+strconv.Itoa(tcp), "CH_HTTP_PORT="+strconv.Itoa(http))
	run := func(cmd string) {
		c := exec.Command(script, cmd)
		c.Env = env
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("clickhouse.sh %s: %v\n%s", cmd, err, out)
		}
	}
	run("start")
	t.Cleanup(func() { run("stop") })
	return run, fmt.Sprintf("clickhouse://127.0.0.1:%d/sb_restart", tcp)
}

// The scorer commits Kafka offsets after Flush returns nil, so while the
// server is down Flush must not return nil, Add must push back, and after a
// restart every row must be stored, and be counted once.
func TestWriterSurvivesServerRestart(t *testing.T) {
	if os.Getenv("CLICKHOUSE_DSN") == "" {
		t.Skip("CLICKHOUSE_DSN is not set: integration test skipped")
	}
	run, dsn := privateServer(t)
	ctx := context.Background()
	s, err := Open(ctx, dsn)
	must(t, err)
	defer s.Close()
	w := s.NewWriter(WriterOptions{BatchSize: 500, FlushInterval: 20 * time.Millisecond, MaxBuffered: 2000, MaxRetryInterval: 200 * time.Millisecond})
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	const total = 20000
	var reached atomic.Int64
	producerDone := make(chan struct{})
	stopAt := make(chan struct{})
	go func() {
		defer close(producerDone)
		for i := 0; i < total; i++ {
			if i == total/4 {
				close(stopAt)
			}
			// Replays: every 10th event is sent twice, as after a consumer restart.
			rows := []Touch{touchN(i, base)}
			if i%10 == 0 {
				rows = append(rows, touchN(i, base))
			}
			if err := w.AddTouches(rows...); err != nil {
				t.Error(err)
				break
			}
			reached.Store(int64(i))
		}
	}()
	<-stopAt
	run("stop")

	// While down: the producer gets pushed back and Flush reports failure.
	fctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	err = w.Flush(fctx)
	cancel()
	if err == nil {
		t.Fatal("Flush returned nil while the server was down")
	}
	time.Sleep(300 * time.Millisecond)
	last := reached.Load()
	time.Sleep(300 * time.Millisecond)
	if last >= total-1 || reached.Load() != last {
		t.Fatalf("Add never blocked while the server was down (reached %d)", last)
	}
	st := w.Stats()
	if st.Durable >= st.Added || st.Retries == 0 {
		t.Fatalf("while down: %+v, want durable < added and retries > 0", st)
	}
	t.Logf("while down: %+v, producer reached %d", st, last)

	run("start")
	<-producerDone
	fctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	must(t, w.Flush(fctx))
	must(t, w.Close(ctx))
	if got := countRows(t, s, "SELECT uniqExact(event_id) FROM touches"); got != total {
		t.Fatalf("%d distinct events stored, want %d", got, total)
	}
	if got := countRows(t, s, "SELECT count() FROM touches FINAL"); got != total {
		t.Fatalf("count() FINAL = %d, want %d: replays must collapse", got, total)
	}
	if n := countRows(t, s, "SELECT count() FROM touches"); n < total {
		t.Fatalf("raw rows %d < %d", n, total)
	}
}

// With Linger, flushes asked for in quick succession share an INSERT per
// table instead of one each.
func TestWriterLingerJoinsFlushes(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	// A linger far above the loop's five 20 ms sleeps, so a loaded
	// machine stretching them (a loaded run failed so at 300 ms) still
	// finishes the loop inside one linger.
	w := s.NewWriter(WriterOptions{Linger: 2 * time.Second})
	defer w.Close(ctx)
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	must(t, w.AddTouches(touchN(0, base)))
	must(t, w.Flush(ctx)) // the first flush does not wait
	before := w.Stats().Inserts
	errs := make(chan error, 5)
	for i := 1; i <= 5; i++ {
		must(t, w.AddTouches(touchN(i, base)))
		go func() { errs <- w.Flush(ctx) }()
		time.Sleep(20 * time.Millisecond)
	}
	for range 5 {
		must(t, <-errs)
	}
	if n := w.Stats().Inserts - before; n != 1 {
		t.Errorf("%d INSERTs for five flushes 20 ms apart, want 1", n)
	}
	if got := countRows(t, s, "SELECT count() FROM touches"); got != 6 {
		t.Errorf("%d touches stored, want 6", got)
	}
}

// An insert larger than one block of the driver arrives whole, and the
// server writes it as one part per monthly partition (it squashes the
// INSERT's blocks), as one block would: no more parts for ClickHouse to
// write and merge.
func TestInsertInBlocksIsOnePart(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	w := s.NewWriter(WriterOptions{BatchSize: 100_000})
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	n := 2*insertBlockRows + 123 // three blocks, all in March
	rows := make([]Touch, n)
	for i := range rows {
		rows[i] = touchN(i, base)
	}
	must(t, w.AddTouches(rows...))
	must(t, w.Close(ctx))
	if got := countRows(t, s, "SELECT count() FROM touches"); got != uint64(n) {
		t.Fatalf("%d rows, want %d", got, n)
	}
	if got := countRows(t, s, "SELECT uniqExact(event_id) FROM touches"); got != uint64(n) {
		t.Fatalf("%d distinct event ids, want %d", got, n)
	}
	// Parts written by inserts have level 0 (merges make higher levels
	// and leave the old parts listed, inactive, for minutes).
	q := "SELECT count() FROM system.parts WHERE database = " + quote(s.Database()) + " AND table = 'touches' AND level = 0"
	if got := countRows(t, s, q); got != 1 {
		t.Errorf("the insert wrote %d parts, want 1", got)
	}
}

// BenchmarkWriterInsert is the writer's CPU (this process: row columns,
// the driver's encoding, the garbage) per touch for inserts of 50,000
// touches with their contact snapshots, sent in blocks of
// insertBlockRows and in one block, alternated.
func BenchmarkWriterInsert(b *testing.B) {
	s := openTestStore(b)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]Touch, 50_000)
	for i := range rows {
		rows[i] = touchN(i, base)
		rows[i].Contact = fmt.Sprintf(`{"company":"Acme %d","email":"c%d@example.com","jobtitle":"VP Sales","lifecyclestage":"lead"}`, i%97, i)
	}
	for _, blockRows := range []int{insertBlockRows, len(rows)} {
		b.Run(fmt.Sprintf("block=%d", blockRows), func(b *testing.B) {
			defer func(n int) { insertBlockRows = n }(insertBlockRows)
			insertBlockRows = blockRows
			w := s.NewWriter(WriterOptions{BatchSize: len(rows)})
			defer w.Close(context.Background())
			cpu0 := processCPU()
			for b.Loop() {
				must(b, w.AddTouches(rows...))
				must(b, w.Flush(b.Context()))
			}
			b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N*len(rows)), "cpu-ns/row")
		})
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
