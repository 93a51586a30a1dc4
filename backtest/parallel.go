package backtest

import (
	"io"
	"math/bits"
	"runtime"
	"sync"

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
	in, reopen, done, err := rereadable(in, reopen)
	if err != nil {
		return Summary{}, err
	}
	defer done()
	shards := make([]*streamShard, n)
	var wg sync.WaitGroup
	for i := range shards {
		sh := &streamShard{in: make(chan streamBatch, 4), run: &shardRun{sum: Summary{EvalErrors: map[string]int{}}}}
		sh.next = newStreamBatch()
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
			shards[d.hash[i]%uint64(n)].route(&d.evs[i], d.nums[i], d.hash[i])
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
// decoding side hands it each event with its contact id's hash (route);
// the scoring goroutine finds or adds the contact.
type streamShard struct {
	ids   []string
	index contactIndex
	in    chan streamBatch
	next  streamBatch
	run   *shardRun
}

// streamBatch points into the decoded batches (read-only, shared by the
// shards) rather than copying 100-odd bytes an event.
type streamBatch struct {
	evs   []*events.Event
	hash  []uint64
	lines []int32
}

func newStreamBatch() streamBatch {
	return streamBatch{evs: make([]*events.Event, 0, batchSize), hash: make([]uint64, 0, batchSize), lines: make([]int32, 0, batchSize)}
}

func (sh *streamShard) route(ev *events.Event, line int32, hash uint64) {
	b := &sh.next
	b.evs = append(b.evs, ev)
	b.hash = append(b.hash, hash)
	b.lines = append(b.lines, line)
	if len(b.evs) == batchSize {
		sh.flush()
	}
}

func (sh *streamShard) flush() {
	if len(sh.next.evs) > 0 {
		sh.in <- sh.next
		sh.next = newStreamBatch()
	}
}

func (sh *streamShard) score(e *scoring.Engine, opts Options) {
	s := newScorer(e, opts)
	r := sh.run
	items := make([]scoring.Item, 0, batchSize)
	who := make([]int32, 0, batchSize)
	for b := range sh.in {
		who = who[:0]
		for k, ev := range b.evs {
			ci, ok := sh.index.find(sh.ids, ev.ContactID, b.hash[k])
			if !ok {
				ci = int32(len(sh.ids))
				sh.ids = append(sh.ids, ev.ContactID)
				sh.index.add(b.hash[k], ci)
				r.contacts = append(r.contacts, contact{})
			}
			who = append(who, ci)
		}
		items = items[:0]
		for k := range b.evs {
			items = append(items, scoring.Item{Contact: &r.contacts[who[k]].state, Event: b.evs[k]})
		}
		s.ApplyBatch(items, func(k int, o *scoring.Outcome) {
			r.count(e, &r.contacts[who[k]], b.evs[k], b.lines[k], o)
		})
	}
}

// contactIndex finds a shard's contacts by id from the hash the decoding
// cores computed for the id (which also chose the shard): the id is
// hashed once. Open addressing, at most half full.
type contactIndex struct {
	slots []indexSlot
	n     int
	shift uint // 64 - log2(len(slots)): a slot is a hash's high bits
}

type indexSlot struct {
	hash uint64
	ci   int32 // the contact's index + 1; 0: empty
}

// find is the index of contact id, of hash h, among ids.
func (x *contactIndex) find(ids []string, id string, h uint64) (int32, bool) {
	if len(x.slots) == 0 {
		return 0, false
	}
	mask := len(x.slots) - 1
	for i := int(h >> x.shift); ; i = (i + 1) & mask {
		sl := &x.slots[i]
		if sl.ci == 0 {
			return 0, false
		}
		if sl.hash == h && ids[sl.ci-1] == id {
			return sl.ci - 1, true
		}
	}
}

// add indexes contact ci, of hash h, which find did not find.
func (x *contactIndex) add(h uint64, ci int32) {
	if 2*(x.n+1) > len(x.slots) {
		x.grow()
	}
	mask := len(x.slots) - 1
	i := int(h >> x.shift)
	for x.slots[i].ci != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = indexSlot{h, ci + 1}
	x.n++
}

func (x *contactIndex) grow() {
	old := x.slots
	size := max(2*len(old), 1024)
	x.slots, x.n, x.shift = make([]indexSlot, size), 0, uint(64-bits.TrailingZeros(uint(size)))
	for _, sl := range old {
		if sl.ci != 0 {
			x.add(sl.hash, sl.ci-1)
		}
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
