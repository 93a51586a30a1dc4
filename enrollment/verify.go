package enrollment

import (
	"context"
	"errors"
)

// verdict is what a status check says about sequence calls of ours whose
// outcome is unknown.
type verdict int

const (
	// verdictNone: the contact is in no sequence; no call of ours took.
	verdictNone verdict = iota
	// verdictOurs: the contact is in the target sequence, enrolled by the
	// sender's user (or by a user HubSpot does not name): a call of ours
	// may have made it and nothing proves otherwise, so it is ours.
	verdictOurs
	// verdictTheirs: another sequence, or enrolled by another user:
	// provably not a call of ours.
	verdictTheirs
	// verdictUnknown: the sink cannot report enrollments (webhook,
	// dry-run); its receiver de-duplicates by crossing id.
	verdictUnknown
	// verdictUnavailable: the check itself failed.
	verdictUnavailable
)

// StatusChecker verifies, once per question, whether sequence calls whose
// answer was lost (or interrupted by a crash) took effect. Ownership is
// decided from what the bridge recorded before the call (contact,
// sequence, sender) and what HubSpot shows (sequence, enrolling user),
// never from HubSpot's enrolledAt agreeing with the bridge's clock.
type StatusChecker struct {
	Sink  Sink
	Retry Retry
}

// Check asks the contact's status, retrying what may heal.
func (c StatusChecker) Check(ctx context.Context, contactID, sequenceID, userID string) (verdict, *Enrollment, error) {
	var enr *Enrollment
	err := c.Retry.Idempotent(ctx, func() error {
		var err error
		enr, err = c.Sink.Status(ctx, contactID)
		if errors.Is(err, ErrStatusUnknown) {
			return &SinkError{Class: Permanent, Err: err}
		}
		return err
	})
	switch {
	case errors.Is(err, ErrStatusUnknown):
		return verdictUnknown, nil, nil
	case err != nil:
		return verdictUnavailable, nil, err
	case enr == nil:
		return verdictNone, nil, nil
	case enr.SequenceID == sequenceID && (enr.EnrolledBy == "" || enr.EnrolledBy == userID):
		return verdictOurs, enr, nil
	}
	return verdictTheirs, enr, nil
}
