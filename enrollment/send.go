package enrollment

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"time"
)

// SendStage makes the call, with the never-twice protocol: an intent is
// written before the call; a call that may have taken effect (timeout, 5xx,
// or an intent left by an earlier run) is followed by a status check before
// any retry; "already enrolled" is confirmed by the status call and never
// retried; a permanent 4xx fails with the sink's message. When the sink
// stays unavailable the crossing is held, not lost. Rate limiting is the
// sink client's.
type SendStage struct {
	Config *Config
	Ledger Ledger
	Sink   Sink
	// MaxAttempts bounds calls per decision (default 4).
	MaxAttempts int
	// Backoff is the wait before retry n (1-based); default exponential
	// from 200 ms with full jitter, or the sink's Retry-After.
	Backoff func(n int) time.Duration
	// Sleep waits, or returns ctx's error; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// sendLimitBackoff is how long a crossing refused for HubSpot's own send
// cap waits: the bridge's quota missed sends it does not know about.
const sendLimitBackoff = time.Hour

// Name implements Stage.
func (*SendStage) Name() string { return "send" }

func (s *SendStage) attempts() int {
	if s.MaxAttempts <= 0 {
		return 4
	}
	return s.MaxAttempts
}

func (s *SendStage) wait(ctx context.Context, n int, err error) error {
	var d time.Duration
	var se *SinkError
	if errors.As(err, &se) && se.RetryAfter > 0 {
		d = se.RetryAfter
	} else if s.Backoff != nil {
		d = s.Backoff(n)
	} else {
		d = time.Duration(rand.Int64N(int64(200*time.Millisecond) << min(n, 6)))
	}
	if s.Sleep != nil {
		return s.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

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

func (s *SendStage) sequence(ctx context.Context, a *Attempt) (*Decision, error) {
	c := a.Crossing
	target := a.Route.SequenceID
	prior, resumed, err := s.Ledger.Intent(c.CrossingID)
	if err != nil {
		return nil, err
	}
	// since is when a call of ours may first have taken effect: an
	// enrollment into the target found by the status call counts as ours
	// only if one of our calls may have made it, and not before that.
	since := a.Now
	mayHaveEnrolled := resumed
	if resumed {
		since = prior.At
		// An earlier run may have enrolled before it stopped (unless the
		// Resume stage has just asked).
		if !a.resumeChecked {
			if d, done := s.confirm(ctx, a, target, since, true, "resumed: "); done {
				return d, nil
			}
		}
	}
	if err := s.Ledger.PutIntent(Intent{Crossing: c, Target: a.Route.Target(), OwnerID: a.Sender.OwnerID, At: since}); err != nil {
		return nil, err
	}
	req := EnrollRequest{CrossingID: c.CrossingID, ContactID: c.ContactID, SequenceID: target,
		UserID: a.Sender.UserID, SenderEmail: a.Sender.Email}
	var lastErr error
	for n := 1; n <= s.attempts(); n++ {
		if n > 1 {
			if err := s.wait(ctx, n-1, lastErr); err != nil {
				return s.unavailable(a, "enroll", lastErr), nil
			}
		}
		enr, err := s.Sink.Enroll(ctx, req)
		if err == nil {
			d := decide(a, KindEnrolled, "", "")
			d.EnrollmentID = enr.ID
			s.leaveConflicting(ctx, a, d)
			return d, nil
		}
		lastErr = err
		switch Classify(err) {
		case Permanent:
			return decide(a, KindFailed, failMessage(err), ""), nil
		case OverSendLimit:
			return held(a, ReasonQuota, a.Now.Add(sendLimitBackoff), "sink: "+failMessage(err)), nil
		case Unusable:
			return s.unavailable(a, "enroll", err), nil
		case AlreadyEnrolled:
			if d, done := s.confirm(ctx, a, target, since, mayHaveEnrolled, "after already-enrolled: "); done {
				return d, nil
			}
			// HubSpot said enrolled, the status says not: the enrollment
			// ended in between; trying again is safe.
		case Ambiguous:
			mayHaveEnrolled = true
			if d, done := s.confirm(ctx, a, target, since, true, "after ambiguous failure: "); done {
				return d, nil
			}
		case Retryable:
		}
	}
	return s.unavailable(a, "enroll", lastErr), nil
}

// confirmSkew allows for clock differences between the bridge and HubSpot
// when telling our enrollment from an earlier one.
const confirmSkew = 2 * time.Minute

// confirm asks the status. done is true when the answer decides: enrolled
// by a call of ours (mayBeOurs, and not before since), enrolled by someone
// else, or the status itself is unavailable (hold; the intent stays).
func (s *SendStage) confirm(ctx context.Context, a *Attempt, target string, since time.Time, mayBeOurs bool, why string) (*Decision, bool) {
	enr, err := s.Sink.Status(ctx, a.Crossing.ContactID)
	switch {
	case errors.Is(err, ErrStatusUnknown):
		// The sink cannot tell; its calls carry the crossing id as an
		// idempotency key, so retrying is its receiver's to de-duplicate.
		return nil, false
	case err != nil:
		return s.unavailable(a, why+"status check", err), true
	case enr == nil:
		return nil, false
	case mayBeOurs && enr.SequenceID == target && (enr.EnrolledAt.IsZero() || !enr.EnrolledAt.Before(since.Add(-confirmSkew))):
		d := decide(a, KindEnrolled, "", why+"status shows the enrollment")
		d.EnrollmentID = enr.ID
		s.leaveConflicting(ctx, a, d)
		return d, true
	default:
		d := decide(a, KindAlreadyEnrolled, ReasonStatus, why+"contact is in a sequence it was enrolled in by someone else")
		d.InSequence = enr.SequenceID
		return d, true
	}
}

// leaveConflicting takes the contact out of the workflows of the same
// theme it is in, recording which were left and which could not be.
// Under the Bridge (leaveLater) it only queues the exits: the calls wait
// until the sender's lock is released, so that a workflow outage does not
// hold up the sender's other enrollments.
func (s *SendStage) leaveConflicting(ctx context.Context, a *Attempt, d *Decision) {
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
		if err := s.retryIdempotent(ctx, func() error { return s.Sink.UnenrollWorkflow(ctx, w, email) }); err != nil {
			d.UnenrollFailed = append(d.UnenrollFailed, w)
			continue
		}
		d.Unenrolled = append(d.Unenrolled, w)
	}
}

// retryIdempotent retries a call that is safe to repeat (workflow
// enrollment and unenrollment) on any non-permanent failure.
func (s *SendStage) retryIdempotent(ctx context.Context, call func() error) error {
	var err error
	for n := 1; n <= s.attempts(); n++ {
		if n > 1 {
			if werr := s.wait(ctx, n-1, err); werr != nil {
				return err
			}
		}
		if err = call(); err == nil {
			return nil
		}
		if c := Classify(err); c == Permanent || c == Unusable {
			return err
		}
	}
	return err
}

func (s *SendStage) workflow(ctx context.Context, a *Attempt) (*Decision, error) {
	email := a.Email()
	if email == "" {
		return decide(a, KindFailed, ReasonNoEmail, "workflow enrollment needs the contact's email"), nil
	}
	if err := s.Ledger.PutIntent(Intent{Crossing: a.Crossing, Target: a.Route.Target(), At: a.Now}); err != nil {
		return nil, err
	}
	err := s.retryIdempotent(ctx, func() error { return s.Sink.EnrollWorkflow(ctx, a.Route.WorkflowID, email) })
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
// still stored: a crash, or a timeout after HubSpot accepted). If HubSpot
// shows the enrollment it is recorded as enrolled, and so counted against
// the sender's quota, instead of being held by Quota or Hours while the
// contact is in fact enrolled.
type ResumeStage struct {
	Send      *SendStage
	Sequences *SequenceCache
}

// Name implements Stage.
func (*ResumeStage) Name() string { return "resume" }

// Exec implements Stage.
func (r *ResumeStage) Exec(ctx context.Context, a *Attempt) (*Decision, error) {
	if a.Route.Target().Kind != TargetSequence || a.Sender == nil {
		return nil, nil
	}
	prior, ok, err := r.Send.Ledger.Intent(a.Crossing.CrossingID)
	if err != nil || !ok {
		return nil, err
	}
	target := a.Route.SequenceID
	// The steps project the sends of an enrollment found here; without
	// them the enrollment still counts, its sends do not.
	if info, err := r.Sequences.Get(ctx, target, a.Sender.UserID, a.Now); err == nil {
		a.Sequence = &info
		a.Schedule = schedule(a.Now, info.EmailOffsets())
	}
	d, done := r.Send.confirm(ctx, a, target, prior.At, true, "resumed: ")
	if done {
		return d, nil
	}
	a.Sequence, a.Schedule = nil, nil // Quota sets them
	a.resumeChecked = true
	return nil, nil
}
