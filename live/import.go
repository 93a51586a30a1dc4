package live

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/scoring"
)

// ImportSummary counts what an import read and wrote.
type ImportSummary struct {
	Lines, Events, Duplicates, BadLines, Contacts, Touches, LedgerRows, Crossings int
}

// Import scores a JSONL history and writes touches, ledger rows and
// crossings exactly as the live service would had the events arrived in
// the file's order: the same scoring, the same rows, the same crossing
// ids (replays and re-imports de-duplicate by them). Crossings go to the
// history only, never to the crossings topic: the past must not enroll
// anyone. A bad line is reported through badLine and skipped.
func Import(ctx context.Context, e *scoring.Engine, in io.Reader, rec Recorder, badLine func(*events.LineError)) (ImportSummary, error) {
	var sum ImportSummary
	p := NewProcessor(Config{Recorder: rec, Log: zerolog.Nop()}, e)
	part := &partition{engine: e, scorer: scoring.NewScorer(e), contacts: map[string]*scoring.Contact{}}
	b := &batch{dirty: map[*scoring.Contact]string{}}
	flush := func() error {
		sum.Touches += len(b.touches)
		sum.LedgerRows += len(b.ledger)
		sum.Crossings += len(b.crossRows)
		if err := errors.Join(rec.AddTouches(b.touches...), rec.AddLedger(b.ledger...), rec.AddCrossings(b.crossRows...)); err != nil {
			return err
		}
		*b = batch{dirty: b.dirty}
		clear(b.dirty)
		return nil
	}
	r := events.NewReader(in)
	err := r.Each(func(ev events.Event) error {
		if p.scoreEvent(part, &ev, b) {
			sum.Events++
		} else {
			sum.Duplicates++
		}
		if len(b.touches) >= 10_000 {
			if err := flush(); err != nil {
				return err
			}
		}
		return ctx.Err()
	}, func(le *events.LineError) {
		sum.BadLines++
		if badLine != nil {
			badLine(le)
		}
	})
	if err != nil {
		return sum, err
	}
	if err := flush(); err != nil {
		return sum, err
	}
	if err := rec.Flush(ctx); err != nil {
		return sum, fmt.Errorf("clickhouse: %w", err)
	}
	sum.Lines, sum.Contacts = r.Line(), len(part.contacts)
	return sum, nil
}

// The analytics writer is a Recorder.
var _ Recorder = (*analytics.Writer)(nil)
