package backtest

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/scoring"
)

// RunParallel is Run on every core without holding the history: lines are
// decoded on every core, and each event goes, in input order, to the shard
// of its contact (a hash of the id), which scores it with its own Scorer
// as it comes. Memory grows with contacts, as Run's does. The output, the
// summary and the State calls are Run's; contacts whose events came out of
// time order are replayed from a second read, as Run does. With
// Options.Seen (which wants every event in input order as it is counted)
// it is Run.
func RunParallel(e *scoring.Engine, in io.Reader, reopen func() (io.ReadCloser, error), opts Options, emit func(Line) error) (Summary, error) {
	return runParallel(e, in, reopen, opts, emit, projection(e.Rules, opts))
}

// runParallel is RunParallel decoding events with proj.
func runParallel(e *scoring.Engine, in io.Reader, reopen func() (io.ReadCloser, error), opts Options, emit func(Line) error, proj *events.Projection) (Summary, error) {
	n := runtime.GOMAXPROCS(0)
	if opts.Seen != nil || n < 2 {
		return runProjected(e, in, reopen, opts, emit, proj)
	}
	if reopen == nil {
		spool, err := os.CreateTemp("", "scorer-backtest-*.jsonl")
		if err != nil {
			return Summary{}, fmt.Errorf("spool the input: %w", err)
		}
		defer os.Remove(spool.Name())
		defer spool.Close()
		in = io.TeeReader(in, spool)
		reopen = func() (io.ReadCloser, error) { return os.Open(spool.Name()) }
	}
	shards := make([]*streamShard, n)
	var wg sync.WaitGroup
	for i := range shards {
		sh := &streamShard{index: map[string]int32{}, in: make(chan streamBatch, 4), run: &shardRun{sum: Summary{EvalErrors: map[string]int{}}}}
		shards[i] = sh
		wg.Add(1)
		go func() {
			defer wg.Done()
			sh.score(e, opts)
		}()
	}
	bad := 0
	lines, err := decodeInOrder(in, proj, func(d decodedBatch) {
		for _, le := range d.bad {
			bad++
			if opts.BadLine != nil {
				opts.BadLine(le)
			}
		}
		for i := range d.evs {
			sh := shards[xxhash.Sum64String(d.evs[i].ContactID)%uint64(n)]
			sh.route(&d.evs[i], d.nums[i])
		}
	})
	for _, sh := range shards {
		sh.flush()
		close(sh.in)
	}
	wg.Wait()
	if err != nil {
		return Summary{}, err
	}
	runs := make([]*shardRun, n)
	ids := make([][]string, n)
	contacts := 0
	for i, sh := range shards {
		runs[i], ids[i] = sh.run, sh.ids
		contacts += len(sh.ids)
	}
	sum := mergeSummaries(runs)
	sum.Lines, sum.BadLines, sum.Contacts = lines, bad, contacts
	if err := replayShards(e, shards, reopen, opts, &sum, proj); err != nil {
		return sum, err
	}
	s := newScorer(e, opts)
	for _, sh := range shards {
		sh.run.finish(e, s, sh.ids, opts)
	}
	return sum, mergeLines(ids, runs, len(e.Rules.Models), opts, emit)
}

// streamShard scores the events of its contacts as they come. The
// decoding side gives each new contact its index (route); the scoring
// goroutine grows the contacts to match.
type streamShard struct {
	ids   []string
	index map[string]int32
	in    chan streamBatch
	next  streamBatch
	run   *shardRun
}

// streamBatch points into the decoded batches (read-only, shared by the
// shards) rather than copying 100-odd bytes an event.
type streamBatch struct {
	evs   []*events.Event
	who   []int32
	lines []int32
}

func (sh *streamShard) route(ev *events.Event, line int32) {
	ci, ok := sh.index[ev.ContactID]
	if !ok {
		ci = int32(len(sh.ids))
		sh.ids = append(sh.ids, ev.ContactID)
		sh.index[ev.ContactID] = ci
	}
	b := &sh.next
	b.evs = append(b.evs, ev)
	b.who = append(b.who, ci)
	b.lines = append(b.lines, line)
	if len(b.evs) == batchSize {
		sh.flush()
	}
}

func (sh *streamShard) flush() {
	if len(sh.next.evs) > 0 {
		sh.in <- sh.next
		sh.next = streamBatch{evs: make([]*events.Event, 0, batchSize), who: make([]int32, 0, batchSize), lines: make([]int32, 0, batchSize)}
	}
}

func (sh *streamShard) score(e *scoring.Engine, opts Options) {
	s := newScorer(e, opts)
	r := sh.run
	items := make([]scoring.Item, 0, batchSize)
	for b := range sh.in {
		for _, ci := range b.who {
			for int(ci) >= len(r.contacts) {
				r.contacts = append(r.contacts, contact{})
			}
		}
		items = items[:0]
		for k := range b.evs {
			items = append(items, scoring.Item{Contact: &r.contacts[b.who[k]].state, Event: b.evs[k]})
		}
		s.ApplyBatch(items, func(k int, o *scoring.Outcome) {
			r.count(e, &r.contacts[b.who[k]], b.evs[k], b.lines[k], o)
		})
	}
}

// replayShards scores again, from a second read of the input, the
// contacts whose events came out of time order, as Run does.
func replayShards(e *scoring.Engine, shards []*streamShard, reopen func() (io.ReadCloser, error), opts Options, sum *Summary, proj *events.Projection) error {
	late := map[string]*contact{}
	for _, sh := range shards {
		for ci := range sh.run.contacts {
			if c := &sh.run.contacts[ci]; c.outOfTime {
				late[sh.ids[ci]] = c
			}
		}
	}
	if len(late) == 0 {
		return nil
	}
	replayed := make(map[string]*contact, len(late))
	for id, c := range late {
		replayed[id] = c
	}
	if err := replayOutOfTime(e, replayed, reopen, opts, sum, proj); err != nil {
		return err
	}
	for id, c := range late {
		*c = *replayed[id]
	}
	return nil
}
