package enrollment

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/hubspot"
)

// SendStage makes the call, with the never-twice protocol: an intent is
// written before the call (so a crash leaves a call that may have taken
// effect on record, counted against the sender's cap); a call that may
// have taken effect (timeout, 5xx, dropped connection) is verified once by
// the status check before any retry; "already enrolled" is never retried;
// a permanent 4xx fails with the sink's message. When the sink stays
// unavailable the crossing is held, not lost, and a call that may have
// enrolled keeps counting. Retries are the Retry loop's, rate limiting the
// sink client's.
type SendStage struct {
	Config *Config
	Ledger Ledger
	Sink   Sink
	Retry  Retry
}

// sendLimitBackoff is how long a crossing refused for HubSpot's own send
// cap waits: the bridge's quota missed sends it does not know about.
const sendLimitBackoff = time.Hour

// How a sequence enrollment was confirmed (Decision.ConfirmedBy).
const (
	ConfirmedByResponse = "response" // HubSpot answered the enrollment call
	ConfirmedByStatus   = "status"   // the answer was lost (or the run died); the status check showed it
)

// Name implements Stage.
func (*SendStage) Name() string { return "send" }

// Exec implements Stage.
func (s *SendStage) Exec(ctx context.Context, a *Attempt) (*Decision, error) {
	if a.Route.Target().Kind == TargetWorkflow {
		return s.workflow(ctx, a)
	}
	return s.sequence(ctx, a)
}

func (s *SendStage) unavailable(a *Attempt, what string, err error) *Decision {
	return held(a, ReasonSinkUnavailable, a.Now.Add(s.Config.Hold.retryAfter), what+": "+err.Error())
}

func (s *SendStage) checker() StatusChecker { return StatusChecker{Sink: s.Sink, Retry: s.Retry} }

func (s *SendStage) sequence(ctx context.Context, a *Attempt) (*Decision, error) {
	// An earlier run's call was settled by the Resume stage, the one
	// that verifies it; this stage verifies only its own calls.
	c := a.Crossing
	target := a.Route.SequenceID
	intent := Intent{Crossing: c, Target: a.Route.Target(), OwnerID: a.Sender.OwnerID,
		UserID: a.Sender.UserID, At: a.Now, Sends: a.Schedule}
	// The intent is on disk before the request leaves. A hooked sink
	// stores it at the last moment, with the call's start record in the
	// same transaction (one fsync); any other gets it now.
	hooked, _ := s.Sink.(HookedSink)
	if hooked == nil {
		if err := s.Ledger.PutIntent(intent); err != nil {
			return nil, err
		}
	}
	req := EnrollRequest{CrossingID: c.CrossingID, ContactID: c.ContactID, SequenceID: target,
		UserID: a.Sender.UserID, SenderEmail: a.Sender.Email}
	var (
		out       *Decision
		intentErr error
	)
	enroll := func() (Enrollment, error) {
		if hooked == nil {
			return s.Sink.Enroll(ctx, req)
		}
		return hooked.EnrollHooked(ctx, req, func(start *analytics.APICall) error {
			if intentErr = s.Ledger.PutIntentCall(intent, start); intentErr == nil {
				hooked = nil // stored: later calls only record their own start
			}
			return intentErr
		})
	}
	err := s.Retry.Do(ctx, func() (bool, error) {
		enr, err := enroll()
		if intentErr != nil {
			return false, intentErr
		}
		if err == nil {
			out = enrolled(a, enr.ID, ConfirmedByResponse, "")
			return false, nil
		}
		switch Classify(err) {
		case Permanent:
			out = decide(a, KindFailed, failMessage(err), "")
		case OverSendLimit:
			out = held(a, ReasonQuota, a.Now.Add(sendLimitBackoff), "sink: "+failMessage(err))
		case Unusable:
			out = s.unavailable(a, "enroll", err)
		case AlreadyEnrolled:
			// Our call was refused; an earlier one of ours may be what
			// blocks it. Not enrolled any more: it ended in between, and
			// trying again is safe.
			out, _ = s.settle(ctx, a, "after already-enrolled: ")
			return out == nil, err
		case Ambiguous:
			a.maybeEnrolled = true
			out, _ = s.settle(ctx, a, "after the answer was lost: ")
			return out == nil, err
		case Retryable:
			return true, err
		}
		return false, err
	})
	if intentErr != nil {
		return nil, intentErr
	}
	if out == nil {
		out = s.unavailable(a, "enroll", err)
	}
	if out.Kind == KindEnrolled {
		s.leaveConflicting(ctx, a, out)
	}
	return out, nil
}

// settle verifies, once, what the status says about the contact after a
// call of ours that may have enrolled (a.maybeEnrolled) or was refused as
// already enrolled. A decision (nil when trying again is safe) and done
// when the crossing is decided or held.
func (s *SendStage) settle(ctx context.Context, a *Attempt, why string) (*Decision, bool) {
	return settle(ctx, s.checker(), s.Config, a, why)
}

func settle(ctx context.Context, ch StatusChecker, cfg *Config, a *Attempt, why string) (*Decision, bool) {
	v, enr, err := ch.Check(ctx, a.Crossing.ContactID, a.Route.SequenceID, a.Sender.UserID)
	switch {
	case v == verdictOurs && a.maybeEnrolled:
		return enrolled(a, enr.ID, ConfirmedByStatus, why+"status shows the contact in the sequence, enrolled by the sender's user"), true
	case v == verdictOurs, v == verdictTheirs:
		// Ours is excluded when HubSpot refused our only calls: the
		// enrollment was there before we came.
		d := decide(a, KindAlreadyEnrolled, ReasonStatus, why+alreadyDetail(enr, a.maybeEnrolled))
		d.InSequence = enr.SequenceID
		return d, true
	case v == verdictNone:
		a.maybeEnrolled = false
		return nil, false
	case v == verdictUnknown:
		return nil, false
	}
	return held(a, ReasonSinkUnavailable, a.Now.Add(cfg.Hold.retryAfter), why+"status check: "+err.Error()), true
}

func alreadyDetail(enr *Enrollment, mayHave bool) string {
	by := enr.EnrolledBy
	if by == "" {
		by = "an unnamed user"
	}
	if mayHave {
		return "contact is in sequence " + enr.SequenceID + " enrolled by user " + by + ": not a call of ours"
	}
	return "contact was in sequence " + enr.SequenceID + " (enrolled by user " + by + ") before our call; HubSpot refused ours"
}

// enrolled is the decision for a sequence enrollment of ours.
func enrolled(a *Attempt, enrollmentID, confirmedBy, detail string) *Decision {
	d := decide(a, KindEnrolled, "", detail)
	d.EnrollmentID, d.ConfirmedBy = enrollmentID, confirmedBy
	a.maybeEnrolled = false
	return d
}

// leaveConflicting takes the contact out of the workflows of the same
// theme it is in, recording which were left and which could not be.
// Under the Bridge (leaveLater) it only queues the exits: the calls wait
// until the sender's lock is released, so that a workflow outage does not
// hold up the sender's other enrollments.
func (s *SendStage) leaveConflicting(ctx context.Context, a *Attempt, d *Decision) {
	leaver{s.Config, s.Ledger, s.Sink, s.Retry}.leave(ctx, a, d)
}

// leaver takes a contact that entered a sequence out of the conflicting
// workflows; the Send and Resume stages both record enrollments.
type leaver struct {
	Config *Config
	Ledger Ledger
	Sink   Sink
	Retry  Retry
}

func (s leaver) leave(ctx context.Context, a *Attempt, d *Decision) {
	conflicting := s.Config.ConflictingWorkflows(a.Route.SequenceID)
	if len(conflicting) == 0 {
		return
	}
	st, err := s.Ledger.Contact(a.Crossing.ContactID)
	current := []string{}
	if err == nil {
		current = append(current, st.Workflows...)
	}
	if a.leaveLater {
		if a.Email() != "" {
			d.UnenrollPending = slices.Clone(conflicting)
			return
		}
		for _, w := range conflicting {
			if slices.Contains(current, w) {
				d.UnenrollFailed = append(d.UnenrollFailed, w)
			}
		}
		return
	}
	if remote, err := s.Sink.Workflows(ctx, a.Crossing.ContactID); err == nil {
		current = append(current, remote...)
	} else if !errors.Is(err, ErrStatusUnknown) {
		// Not knowing HubSpot's list, leave every conflicting workflow:
		// unenrolling from one the contact is not in is harmless.
		current = append(current, conflicting...)
	}
	email := a.Email()
	for _, w := range conflicting {
		if !slices.Contains(current, w) {
			continue
		}
		if email == "" {
			d.UnenrollFailed = append(d.UnenrollFailed, w)
			continue
		}
		if err := s.Retry.Idempotent(ctx, func() error { return s.Sink.UnenrollWorkflow(ctx, w, email) }); err != nil {
			d.UnenrollFailed = append(d.UnenrollFailed, w)
			continue
		}
		d.Unenrolled = append(d.Unenrolled, w)
	}
}

func (s *SendStage) workflow(ctx context.Context, a *Attempt) (*Decision, error) {
	email := a.Email()
	if email == "" {
		return decide(a, KindFailed, ReasonNoEmail, "workflow enrollment needs the contact's email"), nil
	}
	if err := s.Ledger.PutIntent(Intent{Crossing: a.Crossing, Target: a.Route.Target(), At: a.Now}); err != nil {
		return nil, err
	}
	err := s.Retry.Idempotent(ctx, func() error { return s.Sink.EnrollWorkflow(ctx, a.Route.WorkflowID, email) })
	switch {
	case err == nil:
		return decide(a, KindEnrolled, "", ""), nil
	case Classify(err) == Permanent:
		return decide(a, KindFailed, failMessage(err), ""), nil
	}
	return s.unavailable(a, "workflow enroll", err), nil
}

// failMessage is the remote's message for failed:<message>.
func failMessage(err error) string {
	var se *SinkError
	if errors.As(err, &se) && se.Message != "" {
		return se.Message
	}
	return err.Error()
}

// ResumeStage settles, before any stage that could hold or refuse the
// crossing, a sequence call an earlier try may have made (its intent is
// still stored: a crash, or a lost answer and a failed status check). If
// HubSpot shows the enrollment it is recorded as enrolled, and so counted
// against the sender's quota, instead of being held by Quota or Hours
// while the contact is in fact enrolled. It has its own status checker.
type ResumeStage struct {
	Config    *Config
	Ledger    Ledger
	Sink      Sink
	Retry     Retry
	Sequences *SequenceCache
}

// Name implements Stage.
func (*ResumeStage) Name() string { return "resume" }

// Exec implements Stage.
func (r *ResumeStage) Exec(ctx context.Context, a *Attempt) (*Decision, error) {
	if a.Route.Target().Kind != TargetSequence || a.Sender == nil {
		return nil, nil
	}
	prior, ok, err := r.Ledger.Intent(a.Crossing.CrossingID)
	if err != nil {
		return nil, err
	}
	if !ok || !prior.MayHaveEnrolled() {
		a.settled = true
		return nil, nil
	}
	a.maybeEnrolled = true
	target := a.Route.SequenceID
	// The steps project the sends of an enrollment found here; without
	// them the enrollment still counts, its sends do not.
	if info, err := r.Sequences.Get(ctx, target, a.Sender.UserID, a.Now); err == nil {
		a.Sequence = &info
		a.Schedule = hubspot.SendTimes(info.EmailOffsets(), a.Now)
	}
	d, done := settle(ctx, StatusChecker{Sink: r.Sink, Retry: r.Retry}, r.Config, a, "resumed: ")
	if done {
		if d.Kind == KindEnrolled {
			leaver{r.Config, r.Ledger, r.Sink, r.Retry}.leave(ctx, a, d)
		}
		return d, nil
	}
	a.Sequence, a.Schedule = nil, nil // Quota sets them
	a.settled = !a.maybeEnrolled
	return nil, nil
}
