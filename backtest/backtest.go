package backtest

import (
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/scoring"
)

// Line is one (contact, model) result: a line of backtest output, and the
// answer of the scorer's score endpoint.
type Line struct {
	ContactID string             `json:"contact_id"`
	Model     string             `json:"model"`
	Score     float64            `json:"score"`
	Groups    map[string]float64 `json:"groups"`
	Crossings []time.Time        `json:"crossings"`
	// Thresholds names the threshold of each crossing.
	Thresholds []string `json:"-"`
}

// Options of a backtest.
type Options struct {
	// AsOf, when set, scores at that time and ignores later events;
	// otherwise each contact is scored at its latest event.
	AsOf time.Time
	// BadLine is called for each line that is not a valid event.
	BadLine func(*events.LineError)
	// State, when set, receives every contact's final state, in contact
	// order, after its lines are emitted (rescore --apply saves them).
	State func(contactID string, c *scoring.Contact) error
	// Seen, when set, is called in input order for every event that is
	// not a duplicate, counted or after AsOf (calibration learns from it
	// who converted when, in the same pass and with the same de-duplication).
	Seen func(ev *events.Event)
	// NoGroups leaves Line.Groups nil: a comparison of two rule sets needs
	// only scores and crossings, and a map per line is most of the cost of
	// emitting it.
	NoGroups bool
}

// Summary counts what a backtest read.
type Summary struct {
	Lines      int
	Events     int // distinct events counted
	Duplicates int
	Future     int // after AsOf
	BadLines   int
	Contacts   int
	Reordered  int // contacts replayed in time order in a second pass
	EvalErrors map[string]int
	Examples   []scoring.EvalError // the first few expression errors
}

type contact struct {
	state     scoring.Contact
	lastID    string // id of the event counted last, for the order check
	lastT     int64  // its time (History's order check)
	outOfTime bool   // an event arrived before one it follows in time
	crossings [][]time.Time
	names     [][]string // threshold of each crossing
}

// Run scores every event of in and emits a Line per (contact, model), in
// contact then model order. Events are applied as they stream; a contact
// whose events came out of (occurred_at, id) order is replayed in order in
// a second pass so its crossings are exact. The second pass rereads the
// input through reopen, or, when reopen is nil, in itself if it can seek
// (from where it stood), else a temporary copy taken while streaming.
func Run(e *scoring.Engine, in io.Reader, reopen func() (io.ReadCloser, error), opts Options, emit func(Line) error) (Summary, error) {
	return runProjected(e, in, reopen, opts, emit, projection(e.Rules, opts))
}

// runProjected is Run decoding events with proj.
func runProjected(e *scoring.Engine, in io.Reader, reopen func() (io.ReadCloser, error), opts Options, emit func(Line) error, proj *events.Projection) (Summary, error) {
	sum := Summary{EvalErrors: map[string]int{}}
	in, reopen, done, err := rereadable(in, reopen)
	if err != nil {
		return sum, err
	}
	defer done()
	s := scoring.NewScorer(e)
	if !opts.AsOf.IsZero() {
		s.AsOf = opts.AsOf.UnixNano()
	}
	contacts := map[string]*contact{}
	r := events.NewReader(in)
	r.Project(proj)
	badLine := func(le *events.LineError) {
		sum.BadLines++
		if opts.BadLine != nil {
			opts.BadLine(le)
		}
	}
	err = r.Each(func(ev events.Event) error {
		c := contacts[ev.ContactID]
		if c == nil {
			c = newContact(e)
			contacts[ev.ContactID] = c
		}
		latest, counted := c.state.Latest, c.state.Count
		o := s.Apply(&c.state, &ev)
		if !o.Duplicate && opts.Seen != nil {
			// A copy: handing &ev to an unknown function would move every
			// event to the heap, Seen or not (110 bytes and a collection's
			// share per event: most of --stream's 1.13x CPU against 51805b0).
			seen := ev
			opts.Seen(&seen)
		}
		switch {
		case o.Duplicate:
			sum.Duplicates++
			return nil
		case o.Future:
			sum.Future++
			return nil
		}
		sum.Events++
		t := ev.OccurredAt.UnixNano()
		if counted > 0 && (t < latest || t == latest && ev.ID < c.lastID) {
			c.outOfTime = true
		}
		if counted == 0 || t > latest || t == latest && ev.ID > c.lastID {
			c.lastID = ev.ID
		}
		sum.countErrors(o.Errors)
		c.hit(e, o.Hits, ev.OccurredAt)
		return nil
	}, badLine)
	if err != nil {
		return sum, err
	}
	sum.Lines = r.Line()
	sum.Contacts = len(contacts)
	if err := replayOutOfTime(e, contacts, reopen, opts, &sum, proj); err != nil {
		return sum, err
	}
	ids := make([]string, 0, len(contacts))
	for id := range contacts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		c := contacts[id]
		T := c.state.Latest
		if s.AsOf != 0 {
			T = s.AsOf
		}
		for mi := range e.Rules.Models {
			line := scoreLine(s, id, &c.state, mi, T, !opts.NoGroups)
			if c.crossings[mi] != nil {
				line.Crossings, line.Thresholds = c.crossings[mi], c.names[mi]
			}
			if err := emit(line); err != nil {
				return sum, err
			}
		}
		if opts.State != nil {
			if err := opts.State(id, &c.state); err != nil {
				return sum, err
			}
		}
	}
	return sum, nil
}

// replayOutOfTime rereads the input for the contacts whose events came out
// of order and scores each again from its events sorted by time.
func replayOutOfTime(e *scoring.Engine, contacts map[string]*contact, reopen func() (io.ReadCloser, error), opts Options, sum *Summary, proj *events.Projection) error {
	evs := map[string][]events.Event{}
	for id, c := range contacts {
		if c.outOfTime {
			evs[id] = nil
		}
	}
	if len(evs) == 0 {
		return nil
	}
	sum.Reordered = len(evs)
	rc, err := reopen()
	if err != nil {
		return fmt.Errorf("reread the input for the second pass: %w", err)
	}
	defer rc.Close()
	r := events.NewReader(rc)
	r.Project(proj)
	err = r.Each(func(ev events.Event) error {
		if list, ok := evs[ev.ContactID]; ok {
			evs[ev.ContactID] = append(list, ev)
		}
		return nil
	}, nil) // bad lines were reported in the first pass
	if err != nil {
		return err
	}
	s := scoring.NewScorer(e)
	if !opts.AsOf.IsZero() {
		s.AsOf = opts.AsOf.UnixNano()
	}
	for id, list := range evs {
		list = scoring.Dedup(list)
		sort.Slice(list, func(i, j int) bool { return list[i].Before(&list[j]) })
		c := newContact(e)
		for i := range list {
			c.hit(e, s.Apply(&c.state, &list[i]).Hits, list[i].OccurredAt)
		}
		contacts[id] = c
	}
	return nil
}

func newContact(e *scoring.Engine) *contact {
	n := len(e.Rules.Models)
	return &contact{crossings: make([][]time.Time, n), names: make([][]string, n)}
}

func (c *contact) hit(e *scoring.Engine, hits []scoring.Hit, at time.Time) {
	if len(hits) > 0 && c.crossings == nil {
		n := len(e.Rules.Models)
		c.crossings, c.names = make([][]time.Time, n), make([][]string, n)
	}
	for _, h := range hits {
		c.crossings[h.Model] = append(c.crossings[h.Model], at)
		c.names[h.Model] = append(c.names[h.Model], e.Rules.Models[h.Model].Thresholds[h.Threshold].Name)
	}
}

const maxExamples = 5

func (s *Summary) countErrors(errs []scoring.EvalError) {
	for _, err := range errs {
		s.EvalErrors[err.Model+"/"+err.Group]++
		if len(s.Examples) < maxExamples {
			s.Examples = append(s.Examples, err)
		}
	}
}

// rereadable gives the input and a way to read it again for the second
// pass: reopen when given; else, when in can seek (a file, stdin
// redirected from one, bytes in memory), in again from where it stands
// now, which spares copying the whole input; else a temporary copy taken
// while in is read. done removes the copy.
func rereadable(in io.Reader, reopen func() (io.ReadCloser, error)) (io.Reader, func() (io.ReadCloser, error), func(), error) {
	if reopen != nil {
		return in, reopen, func() {}, nil
	}
	if rs, ok := in.(io.ReadSeeker); ok && regular(in) {
		if at, err := rs.Seek(0, io.SeekCurrent); err == nil {
			return in, func() (io.ReadCloser, error) {
				if _, err := rs.Seek(at, io.SeekStart); err != nil {
					return nil, err
				}
				return io.NopCloser(rs), nil
			}, func() {}, nil
		}
	}
	spool, err := os.CreateTemp("", "scorer-backtest-*.jsonl")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("spool the input: %w", err)
	}
	done := func() {
		spool.Close()
		os.Remove(spool.Name())
	}
	return io.TeeReader(in, spool), func() (io.ReadCloser, error) { return os.Open(spool.Name()) }, done, nil
}

// regular says whether in, if it is a file, is a regular one: a pipe
// cannot seek, and a terminal seems to but cannot be read again.
func regular(in io.Reader) bool {
	f, ok := in.(*os.File)
	if !ok {
		return true
	}
	st, err := f.Stat()
	return err == nil && st.Mode().IsRegular()
}
