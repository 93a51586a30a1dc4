package calibration

import (
	"io"
	"math"

	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

// Population counts who is measured and who is left out.
type Population struct {
	Contacts  int // with an event at or before T0 and no conversion by then
	Converted int // of them, with a conversion in (T0, T0+window]
	// Already are contacts left out for a conversion at or before T0;
	// Later, contacts whose first event comes after T0.
	Already, Later int
}

const (
	hasBefore uint8 = 1 << iota
	convBefore
	convInWindow
)

// Source backtests a history once with the options given: backtest.Run
// over a JSONL file (File), or History.Run over a history held in memory
// (Held), which gives the same lines and summary.
type Source func(e *scoring.Engine, opts backtest.Options, emit func(backtest.Line) error) (backtest.Summary, error)

// File reads the history from open at each run (and again from it for
// events out of time order).
func File(open func() (io.ReadCloser, error)) Source {
	return func(e *scoring.Engine, opts backtest.Options, emit func(backtest.Line) error) (backtest.Summary, error) {
		in, err := open()
		if err != nil {
			return backtest.Summary{}, err
		}
		defer in.Close()
		return backtest.Run(e, in, open, opts, emit)
	}
}

// Held scores the history held in memory: one version of it, whatever
// happens to the file it was read from.
func Held(h *backtest.History) Source { return h.Run }

// Scan scores a JSONL history at q.AsOf exactly as `backtest --as-of`
// does and calls fn with each (contact, model) line of the population,
// with its label. Conversions are read in the same pass, with the same
// de-duplication (the first event of an id wins).
func Scan(e *scoring.Engine, in io.Reader, reopen func() (io.ReadCloser, error), q Query, badLine func(*events.LineError), fn func(l *backtest.Line, converted bool) error) (backtest.Summary, Population, error) {
	return ScanSource(e, func(e *scoring.Engine, opts backtest.Options, emit func(backtest.Line) error) (backtest.Summary, error) {
		return backtest.Run(e, in, reopen, opts, emit)
	}, q, badLine, fn)
}

// ScanSource is Scan over any Source.
func ScanSource(e *scoring.Engine, run Source, q Query, badLine func(*events.LineError), fn func(l *backtest.Line, converted bool) error) (backtest.Summary, Population, error) {
	var pop Population
	t0 := q.AsOf.UnixNano()
	t1 := q.AsOf.Add(q.Window).UnixNano()
	flags := map[string]uint8{}
	seen := func(ev *events.Event) {
		t := ev.OccurredAt.UnixNano()
		f := flags[ev.ContactID]
		if t <= t0 {
			f |= hasBefore
		}
		if ev.Type == q.Conversion {
			switch {
			case t <= t0:
				f |= convBefore
			case t <= t1:
				f |= convInWindow
			}
		}
		flags[ev.ContactID] = f
	}
	last := ""
	sum, err := run(e, backtest.Options{AsOf: q.AsOf, BadLine: badLine, Seen: seen}, func(l backtest.Line) error {
		f := flags[l.ContactID]
		first := l.ContactID != last
		last = l.ContactID
		switch {
		case f&hasBefore == 0:
			if first {
				pop.Later++
			}
			return nil
		case f&convBefore != 0:
			if first {
				pop.Already++
			}
			return nil
		}
		conv := f&convInWindow != 0
		if first {
			pop.Contacts++
			if conv {
				pop.Converted++
			}
		}
		return fn(&l, conv)
	})
	return sum, pop, err
}

// micro turns a backtest score back into exact micro-points.
func micro(f float64) rules.Points { return rules.Points(math.Round(f * rules.Scale)) }

// FromHistory calibrates every model of e over a JSONL history.
func FromHistory(e *scoring.Engine, in io.Reader, reopen func() (io.ReadCloser, error), q Query, badLine func(*events.LineError)) (Report, backtest.Summary, Population, error) {
	return FromSource(e, func(e *scoring.Engine, opts backtest.Options, emit func(backtest.Line) error) (backtest.Summary, error) {
		return backtest.Run(e, in, reopen, opts, emit)
	}, q, badLine)
}

// FromSource is FromHistory over any Source.
func FromSource(e *scoring.Engine, run Source, q Query, badLine func(*events.LineError)) (Report, backtest.Summary, Population, error) {
	return FromSourceEach(e, run, q, badLine, nil)
}

// FromSourceEach is FromSource that also calls each (when not nil) with
// every line of the population and its label, as ScanSource does: one
// scoring of the history serves the report and the caller's own counts.
func FromSourceEach(e *scoring.Engine, run Source, q Query, badLine func(*events.LineError), each func(l *backtest.Line, converted bool) error) (Report, backtest.Summary, Population, error) {
	hist := make([]map[rules.Points]*Bucket, len(e.Rules.Models))
	index := map[string]int{}
	for i, m := range e.Rules.Models {
		hist[i] = map[rules.Points]*Bucket{}
		index[m.Name] = i
	}
	sum, pop, err := ScanSource(e, run, q, badLine, func(l *backtest.Line, conv bool) error {
		h := hist[index[l.Model]]
		s := micro(l.Score)
		b := h[s]
		if b == nil {
			b = &Bucket{Score: s}
			h[s] = b
		}
		b.Contacts++
		if conv {
			b.Converted++
		}
		if each != nil {
			return each(l, conv)
		}
		return nil
	})
	if err != nil {
		return Report{}, sum, pop, err
	}
	r := NewReport(q)
	for i, m := range e.Rules.Models {
		bs := make([]Bucket, 0, len(hist[i]))
		for _, b := range hist[i] {
			bs = append(bs, *b)
		}
		r.Models = append(r.Models, Summarize(m.Name, bs, m.Thresholds, q.Bands))
	}
	return r, sum, pop, nil
}

// NewReport is an empty report of q.
func NewReport(q Query) Report {
	return Report{AsOf: q.AsOf.UTC(), Conversion: q.Conversion, Window: rules.FormatDuration(q.Window), Models: []Model{}}
}
