package enrollment

import (
	"context"
	"fmt"
	"strings"
)

// Stage is one check of the decision pipeline, after Alertmanager's
// notify.Stage: it returns a Decision to stop the pipeline, or nil to pass
// the Attempt on. An error means the stage could not decide (the store
// failed); the crossing is then neither decided nor acknowledged.
type Stage interface {
	Name() string
	Exec(ctx context.Context, a *Attempt) (*Decision, error)
}

// MultiStage runs stages in order until one decides.
type MultiStage []Stage

// Name implements Stage.
func (ms MultiStage) Name() string {
	names := make([]string, len(ms))
	for i, s := range ms {
		names[i] = s.Name()
	}
	return strings.Join(names, ",")
}

// Exec implements Stage.
func (ms MultiStage) Exec(ctx context.Context, a *Attempt) (*Decision, error) {
	for _, s := range ms {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d, err := s.Exec(ctx, a)
		if err != nil {
			return nil, fmt.Errorf("stage %s: crossing %s contact %s: %w", s.Name(), a.Crossing.CrossingID, a.Crossing.ContactID, err)
		}
		if d != nil {
			if d.Stage == "" {
				d.Stage = s.Name()
			}
			return d, nil
		}
	}
	return nil, nil
}

// Pipeline builds the standard pipeline, each stage its own: Route,
// Resume, Suppress, Exclusive, Quota, BusinessHours, Send. Retry is the
// one retry policy of sink calls (Resume's status checks and Send's
// calls). Recording is the Bridge's, after any stage.
func Pipeline(cfg *Config, ledger Ledger, sink Sink, retry Retry) MultiStage {
	seqs := NewSequenceCache(sink)
	seqs.Retry = retry
	return MultiStage{
		RouteStage{Config: cfg},
		&ResumeStage{Config: cfg, Ledger: ledger, Sink: sink, Retry: retry, Sequences: seqs},
		SuppressStage{Config: cfg},
		ExclusiveStage{Config: cfg, Ledger: ledger, Sink: sink, Retry: retry},
		&QuotaStage{Config: cfg, Ledger: ledger, Sequences: seqs},
		HoursStage{Config: cfg},
		&SendStage{Config: cfg, Ledger: ledger, Sink: sink, Retry: retry},
	}
}
