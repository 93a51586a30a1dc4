package scorer

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/analytics/analyticstest"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
	"github.com/scorebridge/scorebridge/synth"
)

// discard stands in for the producers: the broker's cost is kafkabench's
// business, this benchmark measures the processor's own.
type discard struct{ n int }

func (d *discard) Write(_ context.Context, msgs ...stream.Record) error {
	d.n += len(msgs)
	return nil
}

func (d *discard) WritePartition(_ context.Context, _ int, msgs ...stream.Record) error {
	d.n += len(msgs)
	return nil
}

// BenchmarkHandle is one partition's share of kafkabench's scorer row
// without Kafka: 50,000 synthetic events of 16,667 contacts (100,000 over
// six partitions), 100 filter groups, handled in batches of 2,000 by a
// fresh processor, crossings and changelog states encoded and discarded.
// ns/event includes decoding and scoring; profile it to see the rest:
//
//	go test -run '^$' -bench Handle -benchtime 5x -cpuprofile /tmp/handle.prof ./scorer/
func BenchmarkHandle(b *testing.B) { benchmarkHandle(b, nil, nil) }

// rows stands in for ClickHouse: it keeps nothing but makes the processor
// build the touch history (touches, ledger and crossing rows), as
// `scorer run --clickhouse` does.
type rows struct{ n int }

func (r *rows) AddTouches(t ...analytics.Touch) error         { r.n += len(t); return nil }
func (r *rows) AddLedger(l ...analytics.LedgerRow) error      { r.n += len(l); return nil }
func (r *rows) AddCrossings(c ...analytics.CrossingRow) error { r.n += len(c); return nil }
func (r *rows) Flush(context.Context) error                   { return nil }

// BenchmarkHandleHistory is BenchmarkHandle building the touch history's
// rows too: the difference is their cost in the scorer's process.
func BenchmarkHandleHistory(b *testing.B) {
	r := &rows{}
	benchmarkHandle(b, r, nil)
	b.ReportMetric(float64(r.n)/float64(b.N*50_000), "rows/event")
}

// benchmarkHandle reports wall ns/event and cpu-ns/event (the process's
// user and system time, the collector's included): on a loaded machine
// the second is the steadier. With scores, the processor publishes the
// lead-scores topic there.
func benchmarkHandle(b *testing.B, rec Recorder, scores *discard) {
	m, err := rules.Parse("bench-100.yaml", []byte(synth.Rules(100)))
	if err != nil {
		b.Fatal(err)
	}
	e, err := scoring.NewEngine(&rules.Set{Models: []*rules.Model{m}, Version: "bench100"})
	if err != nil {
		b.Fatal(err)
	}
	cfg := synth.Default()
	cfg.Contacts, cfg.Companies, cfg.Days, cfg.Events, cfg.DuplicateRate = 16_667, 2_381, 365, 50_000, 0.01
	var msgs []stream.Record
	synth.Generate(cfg, func(ev *events.Event) error {
		data, err := json.Marshal(ev)
		msgs = append(msgs, stream.Message(ev.ContactID, data))
		return err
	})
	const batch = 2000
	var crossings, states discard
	cfg2 := Config{Crossings: &crossings, DeadLetters: &crossings, States: &states, Recorder: rec, Log: zerolog.Nop()}
	if scores != nil {
		cfg2.Scores = scores
	}
	cpu0 := cpuTime()
	for b.Loop() {
		p := NewProcessor(cfg2, e)
		c := &stream.Claim{}
		p.own(&partition{engine: e, scorer: scoring.NewScorer(e), contacts: map[string]*scoring.Contact{}})
		for i := 0; i < len(msgs); i += batch {
			if err := p.Handle(b.Context(), c, msgs[i:min(i+batch, len(msgs))]); err != nil {
				b.Fatal(err)
			}
		}
		// The effects are written behind the scoring: wait for them.
		if err := p.Revoked(b.Context(), c); err != nil {
			b.Fatal(err)
		}
	}
	n := float64(b.N * len(msgs))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/event")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/n, "cpu-ns/event")
	b.ReportMetric(float64(crossings.n)/n, "crossings/event")
	b.ReportMetric(float64(states.n)/n, "states/event")
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHandleClickHouse is BenchmarkHandle with the touch history
// written to ClickHouse (CLICKHOUSE_DSN, a database of its own, dropped
// after) by the writer `scorer run --clickhouse` uses: cpu-ns/event is
// the scorer's side of it (row building, the driver's encoding, the
// garbage); with CLICKHOUSE_PID (the server's process id, on this
// machine) server-cpu-ns/event is the server's.
func BenchmarkHandleClickHouse(b *testing.B) {
	s, err := analytics.Open(b.Context(), analyticstest.DSN(b, "sb_bench"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	w := s.NewWriter(HistoryWriterOptions)
	defer w.Close(context.Background())
	server := serverCPU(b)
	benchmarkHandle(b, w, nil)
	st := w.Stats()
	b.ReportMetric(float64(st.Durable)/float64(b.N*50_000), "rows/event")
	b.ReportMetric(float64(st.Durable)/float64(max(1, st.Inserts)), "rows/insert")
	if server != nil {
		b.ReportMetric(float64(server().Nanoseconds())/float64(b.N*50_000), "server-cpu-ns/event")
	}
}

// serverCPU, when CLICKHOUSE_PID names the server's process (on this
// machine), returns a function that gives the server's user and system
// time since the call: its side of the inserts, merges started meanwhile
// included. Nil without CLICKHOUSE_PID.
func serverCPU(b *testing.B) func() time.Duration {
	pid := os.Getenv("CLICKHOUSE_PID")
	if pid == "" {
		return nil
	}
	read := func() time.Duration {
		data, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			b.Fatalf("CLICKHOUSE_PID: %v", err)
		}
		// Fields after the command's closing parenthesis: utime and
		// stime are the 12th and 13th, in clock ticks (100 a second).
		f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		return time.Duration(ut+st) * 10 * time.Millisecond
	}
	t0 := read()
	return func() time.Duration { return read() - t0 }
}
