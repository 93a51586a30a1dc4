package enrollment

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// ExclusiveStage keeps one sequence per contact (HubSpot's rule, checked
// before asking), optionally one active sequence per company, and keeps
// contacts in a sequence out of workflows of the same theme. The ledger is
// trusted while the enrollment it remembers should still be running; past
// that, or when the ledger knows nothing that could block, the sink's
// status call decides.
type ExclusiveStage struct {
	Config *Config
	Ledger Ledger
	Sink   Sink
	Retry  Retry
}

// Name implements Stage.
func (ExclusiveStage) Name() string { return "exclusive" }

// Exec implements Stage.
func (s ExclusiveStage) Exec(ctx context.Context, a *Attempt) (*Decision, error) {
	if a.Route.Target().Kind == TargetWorkflow {
		return s.workflow(ctx, a)
	}
	c := a.Crossing
	st, err := s.Ledger.Contact(c.ContactID)
	if err != nil {
		return nil, err
	}
	if seq := st.Sequence; seq != nil {
		if a.Now.Before(seq.EndsAt) {
			d := decide(a, KindAlreadyEnrolled, ReasonLedger, "")
			d.InSequence = seq.SequenceID
			return d, nil
		}
		enr, d, err := s.status(ctx, a, c.ContactID)
		if d != nil || err != nil {
			return d, err
		}
		if enr != nil {
			d := decide(a, KindAlreadyEnrolled, ReasonStatus, "")
			d.InSequence = enr.SequenceID
			return d, nil
		}
		if err := s.Ledger.ForgetSequence(c.ContactID); err != nil {
			return nil, err
		}
	}
	if s.Config.CompanyExclusive && c.CompanyID != "" {
		return s.company(ctx, a)
	}
	return nil, nil
}

func (s ExclusiveStage) company(ctx context.Context, a *Attempt) (*Decision, error) {
	c := a.Crossing
	cs, ok, err := s.Ledger.Company(c.CompanyID)
	if err != nil || !ok || cs.ContactID == c.ContactID {
		return nil, err
	}
	excluded := func(seq string) *Decision {
		d := decide(a, KindExcluded, ReasonCompanyActive, fmt.Sprintf("contact %s of company %s is in a sequence", cs.ContactID, c.CompanyID))
		d.InSequence = seq
		return d
	}
	if a.Now.Before(cs.EndsAt) {
		return excluded(cs.SequenceID), nil
	}
	enr, d, err := s.status(ctx, a, cs.ContactID)
	if d != nil || err != nil {
		return d, err
	}
	if enr != nil {
		return excluded(enr.SequenceID), nil
	}
	if err := s.Ledger.ForgetSequence(cs.ContactID); err != nil {
		return nil, err
	}
	return nil, s.Ledger.ForgetCompany(c.CompanyID)
}

// workflow refuses a workflow of the same theme as the contact's sequence.
func (s ExclusiveStage) workflow(ctx context.Context, a *Attempt) (*Decision, error) {
	conflicting := s.Config.ConflictingSequences(a.Route.WorkflowID)
	if len(conflicting) == 0 {
		return nil, nil
	}
	excluded := func(seq string) *Decision {
		d := decide(a, KindExcluded, ReasonConflictingSeq, "contact is in sequence "+seq+" of the same theme")
		d.InSequence = seq
		return d
	}
	st, err := s.Ledger.Contact(a.Crossing.ContactID)
	if err != nil {
		return nil, err
	}
	if seq := st.Sequence; seq != nil && a.Now.Before(seq.EndsAt) {
		if slices.Contains(conflicting, seq.SequenceID) {
			return excluded(seq.SequenceID), nil
		}
		return nil, nil
	}
	// The ledger knows no running sequence, but a rep may have enrolled
	// the contact by hand: ask.
	enr, d, err := s.status(ctx, a, a.Crossing.ContactID)
	if d != nil || err != nil {
		return d, err
	}
	if enr != nil && slices.Contains(conflicting, enr.SequenceID) {
		return excluded(enr.SequenceID), nil
	}
	return nil, nil
}

// status asks the sink. A sink that cannot know answers no enrollment; a
// failing sink holds the crossing rather than guess.
func (s ExclusiveStage) status(ctx context.Context, a *Attempt, contactID string) (*Enrollment, *Decision, error) {
	var enr *Enrollment
	err := s.Retry.Idempotent(ctx, func() error {
		var err error
		enr, err = s.Sink.Status(ctx, contactID)
		if errors.Is(err, ErrStatusUnknown) {
			return &SinkError{Class: Permanent, Err: err}
		}
		return err
	})
	switch {
	case errors.Is(err, ErrStatusUnknown):
		return nil, nil, nil
	case err != nil:
		return nil, held(a, ReasonSinkUnavailable, a.Now.Add(s.Config.Hold.retryAfter), "status check: "+err.Error()), nil
	}
	return enr, nil, nil
}
