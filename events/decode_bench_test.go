package events_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/synth"
)

// realistic returns n events from synth's default stream over the given
// number of contacts, encoded as the producers put them on the wire:
// encoding/json, one event a message.
func realistic(tb testing.TB, n, contacts int) [][]byte {
	cfg := synth.Default()
	cfg.Events, cfg.Contacts, cfg.Companies = n, contacts, contacts/7
	var out [][]byte
	err := synth.Generate(cfg, func(ev *events.Event) error {
		b, err := json.Marshal(ev)
		out = append(out, b)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	if len(out) == 0 {
		tb.Fatal(errors.New("synth gave no events"))
	}
	return out
}

// TestFastPathTakesRealisticEvents: what producers send never costs the
// slow path (which would still decode it right, only slower).
func TestFastPathTakesRealisticEvents(t *testing.T) {
	for _, d := range realistic(t, 2_000, 100) {
		if !events.Scans(d) {
			t.Fatalf("left to the slow path: %s", d)
		}
	}
}

// BenchmarkDecode decodes realistic events one per op with Decode and, in
// the same run, with the baselines: the goccy/go-json one-pass path Decode
// had before, and encoding/json (the precise path). Besides ns/op each
// reports cpu-ns/op, the process's CPU time per event (its garbage
// collection included): on a shared machine wall time also counts the
// waits for other processes. Decode, run last, reports how many times less
// CPU it takes than each baseline. The events come from a population of
// synth's default size and from a large one (as the Kafka benchmark's),
// where most values (emails) are new to Decode's cache of repeated words.
func BenchmarkDecode(b *testing.B) {
	for _, contacts := range []int{2_000, 100_000} {
		b.Run(fmt.Sprintf("contacts=%d", contacts), func(b *testing.B) {
			benchmarkDecode(b, realistic(b, 20_000, contacts))
		})
	}
}

func benchmarkDecode(b *testing.B, data [][]byte) {
	size := 0
	for _, d := range data {
		size += len(d)
	}
	cpuPerOp := map[string]float64{}
	for _, bc := range []struct {
		name   string
		decode func([]byte) (events.Event, error)
	}{
		{"encoding_json", events.DecodeSlow},
		{"goccy", events.DecodeGoccy},
		{"Decode", events.Decode},
		// What the backtest of synth.Rules and the sample rules keeps.
		{"Projected", events.NewProjection([]string{"campaign", "channel", "duration_s", "form", "path"}, []string{"email", "lifecycle_stage"}).Decode},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size / len(data)))
			cpu0 := cpuTime()
			for i := 0; b.Loop(); i++ {
				if _, err := bc.decode(data[i%len(data)]); err != nil {
					b.Fatal(err)
				}
			}
			cpu := float64((cpuTime() - cpu0).Nanoseconds()) / float64(b.N)
			b.ReportMetric(cpu, "cpu-ns/op")
			cpuPerOp[bc.name] = cpu
			if bc.name != "Decode" && bc.name != "Projected" {
				return
			}
			for _, base := range []string{"goccy", "encoding_json"} {
				if v, ok := cpuPerOp[base]; ok {
					b.ReportMetric(v/cpu, "x_vs_"+base)
				}
			}
		})
	}
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
