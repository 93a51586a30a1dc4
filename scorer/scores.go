package scorer

import (
	"slices"
	"sync"

	"github.com/scorebridge/scorebridge/leadscores"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
)

// The lead-scores topic gets a contact's message when the batch changed
// what it says. What it said before the batch is not remembered: it is
// read from the contact's state before the batch, which is what the
// topic's latest message for the contact reflects, since every state
// saved was published first (publishing comes before the state in
// durable). A crash between the two replays the batch from the older
// state and publishes the same content again.
//
// Nearly every contact of a batch changes, so the work is kept small: the
// scores are read into a few words per contact (leadscores.Encoder.Scores)
// before and after the batch and compared, and a changed contact's JSON is
// written from its words after the batch into one buffer for the batch,
// keys included.

// scoreMarks is a batch's lead-scores bookkeeping, reused from batch to
// batch (scoreMarksPool): partitions score their batches concurrently.
type scoreMarks struct {
	enc   *leadscores.Encoder
	index map[*scoring.Contact]int32 // into marks
	marks []scoreMark
	words []uint64 // Scores before the batch, Words() per mark
	now   []uint64 // Scores after the batch of the changed contacts
	// changed are the contacts whose scores changed, in the order of marks.
	changed []changed
	ends    []int // of each message's key and value in the batch's buffer
	size    int   // bytes per message (and key) the last batch took, and some
}

// changed is a contact whose message the batch changed.
type changed struct {
	mark   int32 // in marks
	latest int64 // the contact's latest event
}

// scoreMark is a contact's lead-scores message as the batch found it.
type scoreMark struct {
	c           *scoring.Contact
	id, company string // the company of its last event in the batch
	known       bool   // the contact had a message
}

// How far ahead the passes over a batch's contacts fetch their structs
// and their states (scoring.ApplyBatch's distances).
const aheadContact, aheadState = 4, 2

var scoreMarksPool = sync.Pool{New: func() any { return &scoreMarks{index: map[*scoring.Contact]int32{}} }}

// scoresBefore notes, for each contact of the batch, its scores before the
// batch and the company of its last event. It returns nil when the
// processor publishes no scores.
func (p *Processor) scoresBefore(part *partition, items []scoring.Item) *scoreMarks {
	if p.cfg.Scores == nil {
		return nil
	}
	sm := scoreMarksPool.Get().(*scoreMarks)
	if sm.enc == nil || sm.enc.Rules() != part.scorer.Rules {
		sm.enc = leadscores.NewEncoder(part.scorer.Rules)
	}
	n := sm.enc.Words()
	for j, it := range items {
		// The states are cold: fetch them ahead, as ApplyBatch does.
		if k := j + aheadContact; k < len(items) {
			scoring.Prefetch(items[k].Contact, false)
		}
		if k := j + aheadState; k < len(items) {
			scoring.Prefetch(items[k].Contact, true)
		}
		i, ok := sm.index[it.Contact]
		if !ok {
			i = int32(len(sm.marks))
			sm.index[it.Contact] = i
			known := it.Contact.Count > 0
			sm.marks = append(sm.marks, scoreMark{c: it.Contact, id: it.Event.ContactID, known: known})
			if known {
				sm.words = sm.enc.Scores(sm.words, part.scorer, it.Contact)
			} else {
				sm.words = slices.Grow(sm.words, n)[:len(sm.words)+n]
			}
		}
		sm.marks[i].company = it.Event.CompanyID
	}
	return sm
}

// scoresAfter queues the message of every contact of the batch whose
// scores now say something else, in the order the batch first named them,
// and returns sm to the pool.
func (p *Processor) scoresAfter(part *partition, sm *scoreMarks, b *batch) {
	if sm == nil {
		return
	}
	n := sm.enc.Words()
	// First the scores of every contact, keeping those that changed, then
	// their keys and values one after the other in one buffer sized from
	// the last batch's messages: offsets first, slices once it has stopped
	// growing.
	sm.now, sm.changed = sm.now[:0], sm.changed[:0]
	for i := range sm.marks {
		if k := i + aheadContact; k < len(sm.marks) {
			scoring.Prefetch(sm.marks[k].c, false)
		}
		if k := i + aheadState; k < len(sm.marks) {
			scoring.Prefetch(sm.marks[k].c, true)
		}
		m := &sm.marks[i]
		if m.c.Count == 0 {
			continue
		}
		at := len(sm.now)
		sm.now = sm.enc.Scores(sm.now, part.scorer, m.c)
		if m.known && slices.Equal(sm.now[at:], sm.words[i*n:(i+1)*n]) {
			sm.now = sm.now[:at]
			continue
		}
		sm.changed = append(sm.changed, changed{mark: int32(i), latest: m.c.Latest})
	}
	if len(sm.changed) > 0 {
		buf := make([]byte, 0, len(sm.changed)*max(sm.size, 256))
		ends := sm.ends[:0]
		for j, ch := range sm.changed {
			m := &sm.marks[ch.mark]
			buf = append(buf, m.id...)
			ends = append(ends, len(buf))
			buf = sm.enc.Append(buf, m.id, m.company, ch.latest, sm.now[j*n:(j+1)*n])
			ends = append(ends, len(buf))
		}
		sm.size = len(buf)/len(sm.changed) + 32
		b.scores = slices.Grow(b.scores, len(sm.changed))
		start := 0
		for i := 0; i < len(ends); i += 2 {
			k, v := ends[i], ends[i+1]
			b.scores = append(b.scores, stream.Record{Key: buf[start:k:k], Value: buf[k:v:v]})
			start = v
		}
		sm.ends = ends
	}
	clear(sm.index)
	clear(sm.marks) // drop the contacts and strings
	sm.marks, sm.words = sm.marks[:0], sm.words[:0]
	scoreMarksPool.Put(sm)
}
