package studio

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/synth"
)

// BenchmarkPreview times a preview over a history under a 100-group model:
// STUDIO_BENCH_HISTORY names a JSONL file (scripts: `scorer generate
// --contacts 60000 --days 30 --events 1000000`), else 100,000 generated
// events. "served" is what POST /api/preview does (the live rules'
// backtest is kept from the start, the edited rules are scored, diffed
// and summarised); "both" scores both rule sets every time.
func BenchmarkPreview(b *testing.B) {
	data := benchHistory(b)
	dir := b.TempDir()
	live := synth.Rules(100)
	if err := os.WriteFile(filepath.Join(dir, "bench.yaml"), []byte(live), 0o644); err != nil {
		b.Fatal(err)
	}
	// The edit: every group worth 1 point is now worth 5.
	edited := strings.ReplaceAll(live, "    points: 1\n", "    points: 5\n")
	start, cpu0 := time.Now(), cpuTime()
	h, err := backtest.Load(bytes.NewReader(data), 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("load: %d events in %v (%v CPU)", h.Events(), time.Since(start), cpuTime()-cpu0)
	start, cpu0 = time.Now(), cpuTime()
	s, err := New(Config{Rules: []string{dir}, History: h, Source: "bench", Log: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	s = s.current() // the state in force, as a request takes it
	b.Logf("live rules' backtest at start: %v (%v CPU)", time.Since(start), cpuTime()-cpu0)
	b.Run("served", func(b *testing.B) {
		cpu0 := cpuTime()
		for b.Loop() {
			res, err := s.preview(PreviewRequest{File: "bench.yaml", Text: edited})
			if err != nil || !res.OK || res.Moved == 0 {
				b.Fatalf("%v %+v", err, res.Problems)
			}
		}
		b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
	})
	b.Run("both", func(b *testing.B) {
		e, _, err := s.candidate(PreviewRequest{File: "bench.yaml", Text: edited})
		if err != nil {
			b.Fatal(err)
		}
		cpu0 := cpuTime()
		for b.Loop() {
			c, err := h.Compare(s.engine, e, backtest.Options{})
			if err != nil || c.Summary.Moved == 0 {
				b.Fatal(err)
			}
			var res PreviewResult
			res.fill(s.set, e.Rules, c)
		}
		b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
	})
}

// benchHistory is STUDIO_BENCH_HISTORY's file, else 100,000 generated events.
func benchHistory(b *testing.B) []byte {
	var data []byte
	if p := os.Getenv("STUDIO_BENCH_HISTORY"); p != "" {
		var err error
		if data, err = os.ReadFile(p); err != nil {
			b.Fatal(err)
		}
	} else {
		cfg := synth.Default()
		cfg.Contacts, cfg.Days, cfg.Events = 6000, 30, 100000
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		if err := synth.Generate(cfg, func(ev *events.Event) error { return enc.Encode(ev) }); err != nil {
			b.Fatal(err)
		}
		data = buf.Bytes()
	}
	return data
}

// BenchmarkPreviewCompanies times a served preview with the sample account
// rules (testdata/rules-accounts) over the same history as
// BenchmarkPreview: "contacts" edits intent.yaml, which no company model
// rolls up (the company part is skipped); "companies" edits engagement.yaml,
// which account_engagement rolls up (its from model and the company model
// are scored again over the held history, a shard per core, the changes
// then delivered to the companies in input order).
func BenchmarkPreviewCompanies(b *testing.B) {
	data := benchHistory(b)
	dir := b.TempDir()
	for _, name := range []string{"engagement.yaml", "intent.yaml", "account_engagement.yaml"} {
		t, err := os.ReadFile(filepath.Join("..", "testdata", "rules-accounts", name))
		if err != nil {
			b.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name), t, 0o644)
	}
	h, err := backtest.Load(bytes.NewReader(data), 0)
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Config{Rules: []string{dir}, History: h, Source: "bench", Log: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	s = s.current() // the state in force, as a request takes it
	for _, tc := range []struct{ name, file, old, new string }{
		{"contacts", "intent.yaml", "points: ", "points: 1"},
		{"companies", "engagement.yaml", "points: 2\n", "points: 7\n"},
	} {
		t, _ := os.ReadFile(filepath.Join(dir, tc.file))
		edited := strings.Replace(string(t), tc.old, tc.new, 1)
		b.Run(tc.name, func(b *testing.B) {
			cpu0 := cpuTime()
			for b.Loop() {
				res, err := s.preview(PreviewRequest{File: tc.file, Text: edited})
				if err != nil || !res.OK || res.Companies == nil || res.Companies.Scored != (tc.name == "companies") {
					b.Fatalf("%v %+v", err, res.Problems)
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
