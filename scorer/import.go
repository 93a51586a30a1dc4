package scorer

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
	// Forgotten counts the deletions applied, Suppressed the events of
	// forgotten contacts dropped (forget.go).
	Forgotten, Suppressed int
}

// Import scores a JSONL history and writes touches, ledger rows and
// crossings exactly as the live service would had the events arrived in
// the file's order: the same scoring, the same rows, the same crossing
// ids (replays and re-imports de-duplicate by them). Crossings go to the
// history only, never to the crossings topic: the past must not enroll
// anyone. A bad line is reported through badLine and skipped.
//
// A contact_deleted or privacy_deleted event forgets its contact as the
// live service does (forget.go): its state is dropped, later events it
// covers are suppressed, and for a privacy deletion erase (when not nil;
// the service's Config.Erase) deletes the contact's rows once the rows
// imported before it are stored. Each event counts as its own batch.
func Import(ctx context.Context, e *scoring.Engine, in io.Reader, rec Recorder, erase func(ctx context.Context, ids ...string) error, badLine func(*events.LineError)) (ImportSummary, error) {
	var sum ImportSummary
	p := NewProcessor(Config{Recorder: rec, Erase: erase, Log: zerolog.Nop()}, e)
	part := &partition{engine: e, scorer: scoring.NewScorer(e), contacts: map[string]*scoring.Contact{}}
	b := &batch{dirty: map[*scoring.Contact]string{}}
	flush := func() error {
		sum.Touches += len(b.touches)
		sum.LedgerRows += len(b.ledger)
		sum.Crossings += len(b.crossRows)
		if err := errors.Join(rec.AddTouches(b.touches...), rec.AddLedger(b.ledger...), rec.AddCrossings(b.crossRows...)); err != nil {
			return err
		}
		if err := p.eraseImported(ctx, b); err != nil {
			return err
		}
		*b = batch{dirty: b.dirty}
		clear(b.dirty)
		return nil
	}
	r := events.NewReader(in)
	err := r.Each(func(ev events.Event) error {
		forgets := len(b.forgets)
		mk, forgotten := part.forgotten[ev.ContactID]
		switch k := kindOf(ev.Type); {
		case k != 0:
			p.forgetContact(part, &ev, k, b)
			if len(b.forgets) > forgets {
				sum.Forgotten++
			} else {
				sum.Duplicates++ // a deletion the marker covers already
			}
		case forgotten && mk.suppresses(ev.OccurredAt):
			p.suppressed(&ev, "its contact was "+mk.Kind.String())
			sum.Suppressed++
		case p.scoreEvent(part, &ev, b):
			sum.Events++
		default:
			sum.Duplicates++
		}
		if len(b.touches) >= 10_000 || len(b.forgets) > 0 {
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

// eraseImported erases the rows of the privacy deletions in b, after the
// rows added before them are stored (a mutation does not reach rows
// inserted after it).
func (p *Processor) eraseImported(ctx context.Context, b *batch) error {
	privacyDeletions := false
	for _, f := range b.forgets {
		privacyDeletions = privacyDeletions || f.marker.Kind == privacy
	}
	if p.cfg.Erase == nil || !privacyDeletions {
		return nil
	}
	if err := p.cfg.Recorder.Flush(ctx); err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	return p.eraseForgotten(ctx, []*pending{{batch: batch{forgets: b.forgets}}})
}

// The analytics writer is a Recorder.
var _ Recorder = (*analytics.Writer)(nil)
