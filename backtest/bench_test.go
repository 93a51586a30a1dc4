package backtest

import (
	"bytes"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/synth"
)

// The history of the backtest benchmarks: about 200,000 events of 12,000
// contacts (BACKTEST_HISTORY names a JSONL file to use instead), scored
// under a 100-group model and the repository's two models.
var bench struct {
	once sync.Once
	data []byte
	e    *scoring.Engine
	err  error
}

func benchInput(b *testing.B) ([]byte, *scoring.Engine) {
	bench.once.Do(func() {
		if p := os.Getenv("BACKTEST_HISTORY"); p != "" {
			bench.data, bench.err = os.ReadFile(p)
		} else {
			bench.data = history(b, 12000, 30, 11, false)
		}
		dir := b.TempDir()
		writeFile(b, dir, "bench.yaml", synth.Rules(100))
		bench.e = engine(b, dir, "../testdata/rules")
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.data, bench.e
}

func lineCount(data []byte) int { return bytes.Count(data, []byte("\n")) }

// cpuTime is the process's user and system time: on a shared machine the
// wall clock says how busy the others are, CPU time what the code costs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// perEvent reports wall and CPU nanoseconds per event.
func perEvent(b *testing.B, n int, cpu0 time.Duration) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/event")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N)/float64(n), "cpu-ns/event")
}

// BenchmarkBacktestNaive is the naive baseline the backtest is measured
// against (issue 18): the same history, decoded the same way on one core,
// each event tested against every group's compiled `when` (every model of
// the engine) with no type index, as scoring's BenchmarkBaseline does. It
// computes no points and keeps no state, so it costs less than a naive
// backtest would: the ratios against it are, if anything, too low.
func BenchmarkBacktestNaive(b *testing.B) {
	data, e := benchInput(b)
	var progs []*vm.Program
	for _, m := range e.Rules.Models {
		for _, g := range m.Groups {
			p, err := expr.Compile(g.When, expr.Env(rules.Env{}), expr.AsBool())
			if err != nil {
				b.Fatalf("%s/%s: %v", m.Name, g.Name, err)
			}
			progs = append(progs, p)
		}
	}
	b.SetBytes(int64(len(data)))
	cpu0 := cpuTime()
	matches := 0
	for b.Loop() {
		err := events.NewReader(bytes.NewReader(data)).Each(func(ev events.Event) error {
			env := rules.Env{Event: rules.EventEnv{ID: ev.ID, Type: ev.Type, ContactID: ev.ContactID,
				CompanyID: ev.CompanyID, OccurredAt: ev.OccurredAt, Properties: ev.Properties}, Contact: ev.Contact}
			for _, p := range progs {
				if out, err := expr.Run(p, env); err == nil && out == true {
					matches++
				}
			}
			return nil
		}, nil)
		if err != nil {
			b.Fatal(err)
		}
	}
	if matches == 0 {
		b.Fatal("no group matched: the baseline tested nothing")
	}
	b.ReportMetric(float64(len(progs)), "groups")
	perEvent(b, lineCount(data), cpu0)
}

// BenchmarkBacktestStream is the streaming backtest (scorer backtest
// --stream): one core, reading and decoding the history each time.
func BenchmarkBacktestStream(b *testing.B) {
	data, e := benchInput(b)
	b.SetBytes(int64(len(data)))
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := Run(e, bytes.NewReader(data), nil, Options{}, func(Line) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	perEvent(b, lineCount(data), cpu0)
}

// BenchmarkBacktestParallel is what `scorer backtest` does: decode on
// every core, score a shard of contacts per core as events come, hold
// nothing.
func BenchmarkBacktestParallel(b *testing.B) {
	data, e := benchInput(b)
	b.SetBytes(int64(len(data)))
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := RunParallel(e, bytes.NewReader(data), nil, Options{}, func(Line) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	perEvent(b, lineCount(data), cpu0)
}

// BenchmarkBacktestLoadRun is what the studio does at start: decode on
// every core into memory (History), score a shard per core.
func BenchmarkBacktestLoadRun(b *testing.B) {
	data, e := benchInput(b)
	b.SetBytes(int64(len(data)))
	cpu0 := cpuTime()
	for b.Loop() {
		h, err := Load(bytes.NewReader(data), 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := h.Run(e, Options{}, func(Line) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	perEvent(b, lineCount(data), cpu0)
}

// BenchmarkBacktestHeld is a preview's backtest: the history already in
// memory, scored a shard per core.
func BenchmarkBacktestHeld(b *testing.B) {
	data, e := benchInput(b)
	h, err := Load(bytes.NewReader(data), 0)
	if err != nil {
		b.Fatal(err)
	}
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := h.Run(e, Options{NoGroups: true}, func(Line) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	perEvent(b, h.Events(), cpu0)
}
