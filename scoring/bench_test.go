package scoring

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/synth"
)

func benchEngine(b *testing.B, groups int) *Engine {
	m, err := rules.Parse("bench.yaml", []byte(synth.Rules(groups)))
	if err != nil {
		b.Fatal(err)
	}
	e, err := NewEngine(&rules.Set{Models: []*rules.Model{m}})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// benchEvents is a realistic stream: 200,000 decoded events of 20,000
// contacts, in time order.
func benchEvents(b *testing.B) []events.Event {
	cfg := synth.Default()
	cfg.Contacts, cfg.Days, cfg.Events, cfg.DuplicateRate = 20000, 60, 200000, 0
	var out []events.Event
	if err := synth.Generate(cfg, func(ev *events.Event) error { out = append(out, *ev); return nil }); err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkScore scores already-decoded events into per-contact state, as
// the live service does with each batch it fetches: look the batch's
// contacts up, then apply its events in order (ApplyBatch, which fetches
// the state of the contacts a few events ahead while it scores).
// BenchmarkScoreEach applies one event at a time, for comparison.
func BenchmarkScore(b *testing.B) {
	evs := benchEvents(b)
	for _, groups := range []int{100, 1000} {
		b.Run(fmt.Sprintf("groups=%d", groups), func(b *testing.B) {
			s := NewScorer(benchEngine(b, groups))
			contacts := map[string]*Contact{}
			items := make([]Item, 0, benchBatch)
			ignore := func(int, *Outcome) {}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; {
				k := i % len(evs)
				if k == 0 && i > 0 {
					b.StopTimer()
					contacts = map[string]*Contact{} // a fresh pass: the same ids would be duplicates
					b.StartTimer()
				}
				n := min(benchBatch, b.N-i, len(evs)-k) // a batch never spans two passes
				items = items[:0]
				for j := k; j < k+n; j++ {
					items = append(items, Item{Contact: contactOf(contacts, &evs[j]), Event: &evs[j]})
				}
				s.ApplyBatch(items, ignore)
				i += n
			}
			reportRates(b, cpu0)
		})
	}
}

// benchBatch is the batch BenchmarkScore scores at once: smaller than the
// service's usual fetch, so the prefetch of a batch's first events, which
// ApplyBatch cannot hide, is not undercounted.
const benchBatch = 256

// contactOf is ev's contact in contacts, new and empty the first time.
func contactOf(contacts map[string]*Contact, ev *events.Event) *Contact {
	c := contacts[ev.ContactID]
	if c == nil {
		c = &Contact{}
		contacts[ev.ContactID] = c
	}
	return c
}

func BenchmarkScoreEach(b *testing.B) {
	evs := benchEvents(b)
	s := NewScorer(benchEngine(b, 100))
	contacts := map[string]*Contact{}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		k := i % len(evs)
		if k == 0 && i > 0 {
			b.StopTimer()
			contacts = map[string]*Contact{}
			b.StartTimer()
		}
		s.Apply(contactOf(contacts, &evs[k]), &evs[k])
	}
	reportRates(b, cpu0)
}

// cpuTime is the process's user and system CPU time: on a shared machine
// events per CPU-second says what one core sustains, where wall time
// also counts the waits for the other processes.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportRates(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
}

// BenchmarkBaseline evaluates every group's compiled condition for every
// event: what scoring costs without the type index.
func BenchmarkBaseline(b *testing.B) {
	evs := benchEvents(b)
	m, err := rules.Parse("bench.yaml", []byte(synth.Rules(100)))
	if err != nil {
		b.Fatal(err)
	}
	var progs []*vm.Program
	for _, g := range m.Groups {
		p, err := expr.Compile(g.When, expr.Env(rules.Env{}), expr.AsBool())
		if err != nil {
			b.Fatal(err)
		}
		progs = append(progs, p)
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	matches := 0
	for i := 0; i < b.N; i++ {
		ev := &evs[i%len(evs)]
		env := rules.Env{Event: rules.EventEnv{ID: ev.ID, Type: ev.Type, ContactID: ev.ContactID,
			CompanyID: ev.CompanyID, OccurredAt: ev.OccurredAt, Properties: ev.Properties}, Contact: ev.Contact}
		for _, p := range progs {
			if out, err := expr.Run(p, env); err == nil && out == true {
				matches++
			}
		}
	}
	reportRates(b, cpu0)
}

// BenchmarkStatePerContact scores a stream of 1,000,000 contacts with the
// sample rules and reports the heap their state holds, per contact.
func BenchmarkStatePerContact(b *testing.B) {
	set, err := rules.Load("../testdata/rules")
	if err != nil {
		b.Fatal(err)
	}
	e, _ := NewEngine(set)
	for i := 0; i < b.N; i++ {
		cfg := synth.Default()
		cfg.Contacts, cfg.Companies = 1_000_000, 150_000
		s := NewScorer(e)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		contacts := make(map[string]*Contact)
		n := 0
		synth.Generate(cfg, func(ev *events.Event) error {
			c := contacts[ev.ContactID]
			if c == nil {
				c = &Contact{}
				contacts[ev.ContactID] = c
			}
			s.Apply(c, ev)
			n++
			return nil
		})
		runtime.GC()
		runtime.ReadMemStats(&after)
		perContact := float64(after.HeapAlloc-before.HeapAlloc) / float64(len(contacts))
		b.ReportMetric(perContact, "B/contact")
		b.ReportMetric(float64(n)/float64(len(contacts)), "events/contact")
		runtime.KeepAlive(contacts)
	}
}
