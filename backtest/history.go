package backtest

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/scoring"
)

// History is an engagement history decoded once and held in memory, its
// contacts spread over shards by a hash of their id. Contacts are
// independent, so a backtest scores each shard on its own core with its
// own Scorer, and a preview scores the same history again under other
// rules without reading or decoding it again: decoding costs about twice
// what scoring does. Run gives exactly what the streaming Run gives.
//
// A History is read-only once loaded and safe for concurrent use.
type History struct {
	lines  int
	bad    []*events.LineError
	shards []*shard
	where  map[string]place
	events int
}

// place is where a contact's events are: its shard and its index there.
type place struct{ shard, index int32 }

// shard holds the events of its contacts. While loading they are kept in
// the order the input gave them (who and line per event); once loaded
// (settle) they are regrouped by contact, contacts in id order and each
// contact's events in input order, and copied so that each event's maps
// and id lie in memory in that order. Scoring then walks memory straight
// through, and a contact's state stays in the CPU's cache across its
// events, instead of fetching a cold state and cold maps for nearly every
// event of a history in time order (see History.Run).
type shard struct {
	ids []string // contact ids: in order of first event, sorted once settled
	// contact is each contact's latest `contact` object while loading: an
	// event whose object is the same shares it (see share).
	contact []map[string]any
	// evs are the events, in chunks of chunkSize: a growing slice of a
	// million events would be copied again and again.
	evs  [][]events.Event
	who  []int32 // while loading: the contact index of each event
	line []int32 // the input line of each event
	// Once settled: contact ci's events are start[ci] to start[ci+1], and
	// inOrder lists the events' positions in input order (which is what
	// Seen and Each walk).
	start   []int32
	inOrder []int32
}

// batchSize is how many events ApplyBatch takes at once.
const batchSize = 256

const chunkBits = 12
const chunkSize = 1 << chunkBits

// share points ev's contact object at the previous event's when they hold
// the same values: most events of a contact carry the same few contact
// properties, and one map for all of them is a large share of a history's
// memory, of the collector's marking and of the cache misses of scoring.
// Nothing writes to an event's maps once decoded.
func (sh *shard) share(index int32, ev *events.Event) {
	for int(index) >= len(sh.contact) {
		sh.contact = append(sh.contact, nil)
	}
	prev := sh.contact[index]
	if prev != nil && sameFlat(prev, ev.Contact) {
		ev.Contact = prev
		return
	}
	sh.contact[index] = ev.Contact
}

// sameFlat says whether two objects hold the same keys and the same
// scalar values; an object with a nested value is never the same.
func sameFlat(a, b map[string]any) bool {
	if len(a) != len(b) || b == nil {
		return false
	}
	for k, x := range a {
		y, ok := b[k]
		if !ok {
			return false
		}
		switch x.(type) {
		case string, float64, bool, nil:
		default:
			return false
		}
		switch y.(type) {
		case string, float64, bool, nil:
		default:
			return false
		}
		if x != y {
			return false
		}
	}
	return true
}

// ev is the shard's i-th event.
func (sh *shard) ev(i int) *events.Event { return &sh.evs[i>>chunkBits][i&(chunkSize-1)] }

func (sh *shard) push(ev *events.Event) { sh.evs = pushEvent(sh.evs, ev) }

func pushEvent(evs [][]events.Event, ev *events.Event) [][]events.Event {
	if n := len(evs); n == 0 || len(evs[n-1]) == chunkSize {
		evs = append(evs, make([]events.Event, 0, chunkSize))
	}
	last := &evs[len(evs)-1]
	*last = append(*last, *ev)
	return evs
}

// settle regroups a loaded shard's events by contact, contacts sorted by
// id and each contact's events in input order, copying every event's id
// and property map (and each contact's shared contact object) in that
// order: the copies lie in memory in the order scoring reads them, where
// the decoded ones lie in input order, interleaved with every other
// contact's. The decoded events are cleared as they are copied, so that
// the collector can take them back while the copies grow.
func (sh *shard) settle() {
	n, nc := len(sh.who), len(sh.ids)
	byID := make([]int32, nc) // new contact index -> loading index
	for i := range byID {
		byID[i] = int32(i)
	}
	sort.Slice(byID, func(a, b int) bool { return sh.ids[byID[a]] < sh.ids[byID[b]] })
	rank := make([]int32, nc) // loading index -> new
	ids := make([]string, nc)
	for ci, old := range byID {
		rank[old] = int32(ci)
		ids[ci] = sh.ids[old]
	}
	start := make([]int32, nc+1)
	for _, w := range sh.who {
		start[rank[w]+1]++
	}
	for ci := range nc {
		start[ci+1] += start[ci]
	}
	next := slices.Clone(start[:nc])
	inOrder := make([]int32, n) // input order -> position
	from := make([]int32, n)    // position -> input order
	for k, w := range sh.who {
		p := next[rank[w]]
		next[rank[w]]++
		inOrder[k], from[p] = p, int32(k)
	}
	line := make([]int32, n)
	evs := make([][]events.Event, 0, len(sh.evs))
	var idBytes []byte
	for ci := range nc {
		var decoded, copied map[string]any // the contact object shared
		for p := start[ci]; p < start[ci+1]; p++ {
			old := sh.ev(int(from[p]))
			ev := *old
			*old = events.Event{}
			line[p] = sh.line[from[p]]
			ev.ContactID = ids[ci] // one string per contact
			ev.Properties = maps.Clone(ev.Properties)
			if ev.Contact != nil {
				if decoded == nil || !sameMap(decoded, ev.Contact) {
					decoded, copied = ev.Contact, maps.Clone(ev.Contact)
				}
				ev.Contact = copied
			}
			evs = pushEvent(evs, &ev)
			// The ids of a chunk share one string, in order.
			idBytes = append(idBytes, ev.ID...)
			if last := evs[len(evs)-1]; len(last) == chunkSize || p == int32(n)-1 {
				all := string(idBytes)
				at := 0
				for i := range last {
					k := len(last[i].ID)
					last[i].ID = all[at : at+k]
					at += k
				}
				idBytes = idBytes[:0]
			}
		}
	}
	sh.ids, sh.evs, sh.line, sh.start, sh.inOrder = ids, evs, line, start, inOrder
	sh.who, sh.contact = nil, nil
}

// sameMap says whether a and b are the same map (not merely equal).
func sameMap(a, b map[string]any) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// contactEvents is where contact ci's events are, in input order (a
// settled shard).
func (sh *shard) contactEvents(ci int) (from, to int) { return int(sh.start[ci]), int(sh.start[ci+1]) }

// decodeBatch is how many lines a decoding worker takes at once.
const decodeBatch = 512

type rawBatch struct {
	seq   int
	data  []byte  // the lines, back to back
	ends  []int   // end of each line in data
	nums  []int   // each line's number
	early []error // a line that could not even be read whole, else nil
}

type decodedBatch struct {
	seq  int
	evs  []events.Event
	nums []int32
	hash []uint64 // each event's contact id's xxhash: its shard, and its key in the shard
	bad  []*events.LineError
}

// Load reads and decodes a JSONL history on every core into shards
// (shards <= 0: one per core). Bad lines are kept, in line order, and
// reported by every Run through Options.BadLine. It stops at the first
// error of reading.
func Load(in io.Reader, shards int) (*History, error) { return load(in, shards, nil) }

// load is Load decoding events with proj.
func load(in io.Reader, shards int, proj *events.Projection) (*History, error) {
	if shards <= 0 {
		shards = runtime.GOMAXPROCS(0)
	}
	h := &History{shards: make([]*shard, shards), where: map[string]place{}}
	for i := range h.shards {
		h.shards[i] = &shard{}
	}
	lines, err := decodeInOrder(in, proj, h.add)
	if err != nil {
		return nil, err
	}
	h.lines = lines
	var wg sync.WaitGroup
	for _, sh := range h.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sh.settle()
		}()
	}
	wg.Wait()
	for si, sh := range h.shards {
		for ci, id := range sh.ids {
			h.where[id] = place{int32(si), int32(ci)}
		}
	}
	return h, nil
}

// decodeInOrder reads in, decodes its lines on every core with proj, and
// calls fn with the decoded batches in input order. It returns the number
// of lines read.
func decodeInOrder(in io.Reader, proj *events.Projection, fn func(decodedBatch)) (int, error) {
	workers := runtime.GOMAXPROCS(0)
	raws := make(chan rawBatch, workers)
	done := make(chan decodedBatch, workers)
	// Decoded, a batch's lines are copied out of it: the reader reuses
	// it, which spares it growing a new one (twice the size of its lines
	// in garbage) for every 512 lines.
	free := make(chan rawBatch, 2*workers)
	stop := make(chan struct{})
	var readErr error
	r := events.NewReader(in)
	go func() {
		defer close(raws)
		readErr = readBatches(r, raws, free, stop)
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range raws {
				done <- decode(b, proj)
				select {
				case free <- b:
				default:
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	pending := map[int]decodedBatch{}
	next := 0
	for b := range done {
		pending[b.seq] = b
		for {
			d, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			fn(d)
		}
	}
	close(stop)
	if readErr != nil {
		return 0, readErr
	}
	return r.Line(), nil
}

func readBatches(r *events.Reader, out chan<- rawBatch, free <-chan rawBatch, stop <-chan struct{}) error {
	b := rawBatch{}
	send := func() bool {
		select {
		case out <- b:
		case <-stop:
			return false
		}
		seq := b.seq + 1
		select {
		case b = <-free:
			b.data, b.ends, b.nums, b.early = b.data[:0], b.ends[:0], b.nums[:0], b.early[:0]
		default:
			b = rawBatch{data: make([]byte, 0, cap(b.data)), ends: make([]int, 0, decodeBatch),
				nums: make([]int, 0, decodeBatch), early: make([]error, 0, decodeBatch)}
		}
		b.seq = seq
		return true
	}
	for {
		raw, err := r.Raw()
		var le *events.LineError
		switch {
		case errors.Is(err, io.EOF):
			if len(b.nums) > 0 {
				send()
			}
			return nil
		case errors.As(err, &le):
			b.ends = append(b.ends, len(b.data))
			b.nums = append(b.nums, le.Line)
			b.early = append(b.early, le.Err)
		case err != nil:
			return err
		default:
			b.data = append(b.data, raw...)
			b.ends = append(b.ends, len(b.data))
			b.nums = append(b.nums, r.Line())
			b.early = append(b.early, nil)
		}
		if len(b.nums) == decodeBatch && !send() {
			return nil
		}
	}
}

func decode(b rawBatch, proj *events.Projection) decodedBatch {
	n := len(b.nums)
	d := decodedBatch{seq: b.seq, evs: make([]events.Event, 0, n), nums: make([]int32, 0, n), hash: make([]uint64, 0, n)}
	start := 0
	for i, end := range b.ends {
		raw := b.data[start:end]
		start = end
		if b.early[i] != nil {
			d.bad = append(d.bad, &events.LineError{Line: b.nums[i], Err: b.early[i]})
			continue
		}
		ev, err := proj.Decode(raw)
		if err != nil {
			d.bad = append(d.bad, &events.LineError{Line: b.nums[i], Err: err})
			continue
		}
		d.evs = append(d.evs, ev)
		d.nums = append(d.nums, int32(b.nums[i]))
		d.hash = append(d.hash, xxhash.Sum64String(ev.ContactID))
	}
	return d
}

func (h *History) add(d decodedBatch) {
	h.bad = append(h.bad, d.bad...)
	h.events += len(d.evs)
	for i := range d.evs {
		id := d.evs[i].ContactID
		p, ok := h.where[id]
		if !ok {
			p.shard = int32(d.hash[i] % uint64(len(h.shards)))
			sh := h.shards[p.shard]
			p.index = int32(len(sh.ids))
			sh.ids = append(sh.ids, id)
			h.where[id] = p
		}
		sh := h.shards[p.shard]
		sh.share(p.index, &d.evs[i])
		sh.push(&d.evs[i])
		sh.who = append(sh.who, p.index)
		sh.line = append(sh.line, d.nums[i])
	}
}

// Lines is the number of lines read; Events the valid events kept
// (duplicates included); Contacts the distinct contacts.
func (h *History) Lines() int    { return h.lines }
func (h *History) Events() int   { return h.events }
func (h *History) Contacts() int { return len(h.where) }

// BadLines are the lines that are not valid events, in line order.
func (h *History) BadLines() []*events.LineError { return h.bad }

// ContactIDs lists every contact, sorted.
func (h *History) ContactIDs() []string {
	ids := make([]string, 0, len(h.where))
	for id := range h.where {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Of returns a contact's events in input order (a copy: the caller may
// sort it), or nil for a contact the history does not know.
func (h *History) Of(contactID string) []events.Event {
	p, ok := h.where[contactID]
	if !ok {
		return nil
	}
	sh := h.shards[p.shard]
	from, to := sh.contactEvents(int(p.index))
	out := make([]events.Event, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, *sh.ev(i))
	}
	return out
}

// Types lists the event types of the history, sorted.
func (h *History) Types() []string {
	seen := map[string]bool{}
	for _, sh := range h.shards {
		for _, chunk := range sh.evs {
			for i := range chunk {
				seen[chunk[i].Type] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Span is the first and last occurred_at of the history.
func (h *History) Span() (first, last time.Time) {
	for _, sh := range h.shards {
		for i := range sh.line {
			t := sh.ev(i).OccurredAt
			if first.IsZero() || t.Before(first) {
				first = t
			}
			if t.After(last) {
				last = t
			}
		}
	}
	return first, last
}

// Run scores the history as Run scores a stream: the same Lines in the
// same order, the same Summary, the same State calls; the shards are
// scored at once, one goroutine each.
func (h *History) Run(e *scoring.Engine, opts Options, emit func(Line) error) (Summary, error) {
	if opts.BadLine != nil {
		for _, le := range h.bad {
			opts.BadLine(le)
		}
	}
	runs := make([]*shardRun, len(h.shards))
	var wg sync.WaitGroup
	for i, sh := range h.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs[i] = sh.run(e, opts)
		}()
	}
	wg.Wait()
	sum := mergeSummaries(runs)
	sum.Lines, sum.BadLines, sum.Contacts = h.lines, len(h.bad), len(h.where)
	if opts.Seen != nil {
		h.seen(runs, opts.Seen)
	}
	ids := make([][]string, len(h.shards))
	for i, sh := range h.shards {
		ids[i] = sh.ids
	}
	return sum, mergeLines(ids, runs, len(e.Rules.Models), opts, emit)
}

// mergeSummaries adds up the shards' counts and keeps the input's first
// expression errors as examples.
func mergeSummaries(runs []*shardRun) Summary {
	sum := Summary{EvalErrors: map[string]int{}}
	var examples []example
	for _, r := range runs {
		sum.Events += r.sum.Events
		sum.Duplicates += r.sum.Duplicates
		sum.Future += r.sum.Future
		sum.Reordered += r.sum.Reordered
		for k, n := range r.sum.EvalErrors {
			sum.EvalErrors[k] += n
		}
		examples = append(examples, r.examples...)
	}
	// The first examples of the input: each shard kept its first few.
	sort.SliceStable(examples, func(i, j int) bool { return examples[i].line < examples[j].line })
	for i := 0; i < len(examples) && i < maxExamples; i++ {
		sum.Examples = append(sum.Examples, examples[i].err)
	}
	return sum
}

// seen calls fn with every event that is not a duplicate in input order,
// as the streaming Run does during its pass.
func (h *History) seen(runs []*shardRun, fn func(*events.Event)) {
	h.inOrder(func(si, p int) {
		if runs[si].dups[p>>6]&(1<<(p&63)) == 0 {
			fn(h.shards[si].ev(p))
		}
	})
}

// inOrder calls fn with the shard and position of every event, in input
// order. Those positions are scattered over the shards' memory (which is
// in contact order), so it asks the CPU for the events a few ahead.
func (h *History) inOrder(fn func(shard, pos int)) {
	// The merge of the shards by line, a batch at a time.
	const batch = 256
	type at struct{ shard, pos int32 }
	heads := make([]int, len(h.shards))
	lineAt := func(i int) int32 {
		sh := h.shards[i]
		return sh.line[sh.inOrder[heads[i]]]
	}
	next := make([]at, 0, batch)
	for {
		next = next[:0]
		for len(next) < batch {
			best := -1
			for i, sh := range h.shards {
				if heads[i] < len(sh.inOrder) && (best < 0 || lineAt(i) < lineAt(best)) {
					best = i
				}
			}
			if best < 0 {
				break
			}
			next = append(next, at{int32(best), h.shards[best].inOrder[heads[best]]})
			heads[best]++
		}
		if len(next) == 0 {
			return
		}
		ev := func(k int) *events.Event {
			if k >= len(next) {
				return nil
			}
			return h.shards[next[k].shard].ev(int(next[k].pos))
		}
		for k := range min(aheadEvent, len(next)) {
			scoring.PrefetchEvent(ev(k), false)
		}
		for k := range min(aheadData, len(next)) {
			scoring.PrefetchEvent(ev(k), true)
		}
		for k, a := range next {
			scoring.PrefetchEvent(ev(k+aheadEvent), false)
			scoring.PrefetchEvent(ev(k+aheadData), true)
			fn(int(a.shard), int(a.pos))
		}
	}
}

// How far ahead inOrder fetches an event, and its id and maps.
const (
	aheadEvent = 8
	aheadData  = 4
)

// mergeLines emits the shards' lines in contact order.
func mergeLines(ids [][]string, runs []*shardRun, models int, opts Options, emit func(Line) error) error {
	heads := make([]int, len(runs))
	for {
		best := -1
		for i, r := range runs {
			if heads[i] == len(r.order) {
				continue
			}
			if best < 0 || ids[i][r.order[heads[i]]] < ids[best][runs[best].order[heads[best]]] {
				best = i
			}
		}
		if best < 0 {
			return nil
		}
		r, k := runs[best], heads[best]
		heads[best]++
		for _, l := range r.lines[k*models : (k+1)*models] {
			if err := emit(l); err != nil {
				return err
			}
		}
		if opts.State != nil {
			ci := r.order[k]
			if err := opts.State(ids[best][ci], &r.contacts[ci].state); err != nil {
				return err
			}
		}
	}
}

type example struct {
	line int32
	err  scoring.EvalError
}

// shardRun is what scoring one shard gave.
type shardRun struct {
	sum      Summary
	examples []example
	contacts []contact
	dups     []uint64 // with Options.Seen: a bit per event, set for a duplicate
	order    []int32  // contact indexes sorted by id
	lines    []Line   // per contact in order, one per model
}

// run scores a shard exactly as Run scores a stream: each contact's events
// in input order, then, for a contact whose events came out of time
// order, again from its events sorted. Contacts are independent, so they
// are scored one after the other, each with its state and its events hot
// in the CPU's cache, rather than event by event in input order; and done
// with one, its lines are made and, unless Options.State wants every
// state, its state's memory is reused for the next.
func (sh *shard) run(e *scoring.Engine, opts Options) *shardRun {
	s := newScorer(e, opts)
	r := &shardRun{sum: Summary{EvalErrors: map[string]int{}}, order: make([]int32, len(sh.ids))}
	if opts.Seen != nil {
		r.dups = make([]uint64, (len(sh.line)+63)/64)
	}
	keep := opts.State != nil
	if keep {
		r.contacts = make([]contact, len(sh.ids))
	}
	r.lines = make([]Line, 0, len(sh.ids)*len(e.Rules.Models))
	var one contact
	var list []events.Event
	for ci := range sh.ids {
		r.order[ci] = int32(ci) // the ids are sorted
		c := &one
		if keep {
			c = &r.contacts[ci]
		} else {
			c.reset()
		}
		from, to := sh.contactEvents(ci)
		for p := from; p < to; p++ {
			ev := sh.ev(p)
			if r.count(e, c, ev, sh.line[p], s.Apply(&c.state, ev)) && r.dups != nil {
				r.dups[p>>6] |= 1 << (p & 63)
			}
		}
		if c.outOfTime {
			r.sum.Reordered++
			list = list[:0]
			for p := from; p < to; p++ {
				list = append(list, *sh.ev(p))
			}
			replay(e, s, c, list)
		}
		r.lines = appendLines(r.lines, e, s, sh.ids[ci], c, opts)
	}
	return r
}

// replay scores c again from its events sorted by time (evs in input
// order, duplicates included), as the streaming Run's second pass does.
func replay(e *scoring.Engine, s *scoring.Scorer, c *contact, evs []events.Event) {
	list := scoring.Dedup(evs)
	sort.Slice(list, func(i, j int) bool { return list[i].Before(&list[j]) })
	c.reset()
	for i := range list {
		c.hit(e, s.Apply(&c.state, &list[i]).Hits, list[i].OccurredAt)
	}
}

// reset makes c a new contact, keeping its state's memory (the crossings
// went to lines: they are not reused).
func (c *contact) reset() {
	c.state.Reset()
	c.lastID, c.lastT, c.outOfTime, c.crossings, c.names = "", 0, false, nil, nil
}

func newScorer(e *scoring.Engine, opts Options) *scoring.Scorer {
	s := scoring.NewScorer(e)
	if !opts.AsOf.IsZero() {
		s.AsOf = opts.AsOf.UnixNano()
	}
	return s
}

// count takes in one event's outcome as the streaming Run does, and says
// whether the event was a duplicate. The order check needs the contact's
// latest time before the event, kept with lastID as lastT, since
// ApplyBatch reports after the state has changed.
func (r *shardRun) count(e *scoring.Engine, c *contact, ev *events.Event, line int32, o *scoring.Outcome) (duplicate bool) {
	switch {
	case o.Duplicate:
		r.sum.Duplicates++
		return true
	case o.Future:
		r.sum.Future++
		return false
	}
	r.sum.Events++
	t := ev.OccurredAt.UnixNano()
	counted := c.state.Count - 1 // before this event
	if counted > 0 && (t < c.lastT || t == c.lastT && ev.ID < c.lastID) {
		c.outOfTime = true
	}
	if counted == 0 || t > c.lastT || t == c.lastT && ev.ID > c.lastID {
		c.lastID, c.lastT = ev.ID, t
	}
	for _, err := range o.Errors {
		r.sum.EvalErrors[err.Model+"/"+err.Group]++
		r.example(line, err)
	}
	c.hit(e, o.Hits, ev.OccurredAt)
	return false
}

// example keeps err if it is among the first maxExamples errors of the
// shard by input line (a History scores a shard contact by contact, not in
// line order); errors of the same line stay in the order they came.
func (r *shardRun) example(line int32, err scoring.EvalError) {
	i := len(r.examples)
	for i > 0 && r.examples[i-1].line > line {
		i--
	}
	if i >= maxExamples {
		return
	}
	r.examples = slices.Insert(r.examples, i, example{line, err})
	if len(r.examples) > maxExamples {
		r.examples = r.examples[:maxExamples]
	}
}

// finish sorts the shard's contacts by id and makes their lines.
func (r *shardRun) finish(e *scoring.Engine, s *scoring.Scorer, ids []string, opts Options) {
	cs := r.contacts
	r.order = make([]int32, len(cs))
	for i := range r.order {
		r.order[i] = int32(i)
	}
	sort.Slice(r.order, func(i, j int) bool { return ids[r.order[i]] < ids[r.order[j]] })
	r.lines = make([]Line, 0, len(cs)*len(e.Rules.Models))
	for _, ci := range r.order {
		r.lines = appendLines(r.lines, e, s, ids[ci], &cs[ci], opts)
	}
}

// appendLines appends contact id's lines, one per model.
func appendLines(dst []Line, e *scoring.Engine, s *scoring.Scorer, id string, c *contact, opts Options) []Line {
	T := c.state.Latest
	if s.AsOf != 0 {
		T = s.AsOf
	}
	for mi := range e.Rules.Models {
		line := scoreLine(s, id, &c.state, mi, T, !opts.NoGroups)
		if c.crossings != nil && c.crossings[mi] != nil {
			line.Crossings, line.Thresholds = c.crossings[mi], c.names[mi]
		}
		dst = append(dst, line)
	}
	return dst
}

// String says what was loaded, for logs.
func (h *History) String() string {
	return fmt.Sprintf("%d events of %d contacts in %d lines (%d bad) over %d shards", h.events, len(h.where), h.lines, len(h.bad), len(h.shards))
}
