package enrollment

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/scorebridge/scorebridge/analytics"
)

// Sink is where enrollments go: HubSpot, a webhook, or nowhere (dry-run).
// The hubspot client is adapted to it by the command that wires the bridge.
type Sink interface {
	// Enroll enrolls a contact into a sequence on behalf of a sender.
	Enroll(ctx context.Context, req EnrollRequest) (Enrollment, error)
	// Status is the contact's active sequence enrollment, nil when none.
	// A sink that cannot know answers (nil, ErrStatusUnknown).
	Status(ctx context.Context, contactID string) (*Enrollment, error)
	// Sequence describes a sequence's steps, for the send projection.
	Sequence(ctx context.Context, sequenceID, userID string) (SequenceInfo, error)
	// EnrollWorkflow and UnenrollWorkflow act by email, as HubSpot's
	// workflow API does; enrolling twice is accepted without effect.
	EnrollWorkflow(ctx context.Context, workflowID, email string) error
	UnenrollWorkflow(ctx context.Context, workflowID, email string) error
	// Workflows lists the workflows the contact is currently enrolled in.
	Workflows(ctx context.Context, contactID string) ([]string, error)
}

// HookedSink is a sink that can run the Send stage's write-ahead record
// just before its enrollment request leaves (HubSpotSink): the stage then
// stores its intent and the call's start record in one transaction there,
// instead of the intent before the call and the start apart.
type HookedSink interface {
	Sink
	// EnrollHooked is Enroll, running beforeSend once just before the
	// request leaves, with the call's api_calls row (no answer yet) when
	// the sink records calls before they are sent (nil otherwise; Audit
	// completes the row later under its call id). If beforeSend fails,
	// nothing is sent and EnrollHooked returns its error as it is. If
	// nothing was sent, beforeSend has not run.
	EnrollHooked(ctx context.Context, req EnrollRequest, beforeSend func(start *analytics.APICall) error) (Enrollment, error)
}

// EnrollRequest is one sequence enrollment.
type EnrollRequest struct {
	CrossingID  string // idempotency key for sinks that accept one
	ContactID   string
	SequenceID  string
	UserID      string
	SenderEmail string
}

// Enrollment is a contact's sequence enrollment as the sink reports it.
type Enrollment struct {
	ID         string `json:"id"`
	SequenceID string `json:"sequence_id"`
	// EnrolledBy is the user id that enrolled the contact, when the sink
	// says (HubSpot's enrolledBy); it decides whose enrollment it is.
	EnrolledBy string `json:"enrolled_by,omitempty"`
	// EnrolledAt is the sink's clock: shown, never compared with ours.
	EnrolledAt time.Time `json:"enrolled_at"`
}

// SequenceInfo is what the quota needs from GET /sequences/{id}.
type SequenceInfo struct {
	ID    string
	Steps []Step
}

// Step is one sequence step. Delay counts from the previous step.
type Step struct {
	Order  int
	Delay  time.Duration
	Action string // EMAIL, TASK, ...
}

// EmailOffsets are the send times of the sequence's automated emails,
// relative to enrollment.
func (s SequenceInfo) EmailOffsets() []time.Duration {
	var at time.Duration
	var out []time.Duration
	for _, st := range s.Steps {
		at += st.Delay
		if st.Action == "EMAIL" {
			out = append(out, at)
		}
	}
	return out
}

// ErrStatusUnknown is answered by sinks that cannot report enrollments.
var ErrStatusUnknown = errors.New("enrollment status unknown to this sink")

// FailureClass tells the Send stage what a sink error means for retrying.
type FailureClass int

const (
	// Ambiguous: the request may have taken effect (timeout, 5xx, dropped
	// connection). The status must be checked before any retry.
	Ambiguous FailureClass = iota
	// Retryable: the request certainly did not take effect (429, refused
	// connection); retry after a backoff.
	Retryable
	// Permanent: a 4xx that will not change on retry; recorded as failed.
	Permanent
	// AlreadyEnrolled: HubSpot's 400 "Contact already enrolled in a sequence".
	AlreadyEnrolled
	// OverSendLimit: the sender's inbox is over its send cap on HubSpot's
	// side (hubspot.ErrSendLimit); held as quota, not failed.
	OverSendLimit
	// Unusable: the sink refuses every call (401 bad token, 403 missing
	// scope): a configuration problem, not the crossing's. Held at once,
	// so fixing the token releases the leads instead of failing them.
	Unusable
)

func (c FailureClass) String() string {
	return [...]string{"ambiguous", "retryable", "permanent", "already_enrolled", "over_send_limit", "unusable"}[c]
}

// SinkError is how sinks (and the adapter around the hubspot client) tell
// the bridge what a failure means.
type SinkError struct {
	Class      FailureClass
	Status     int           // HTTP status, 0 when none
	Message    string        // the remote's message, recorded on permanent failure
	RetryAfter time.Duration // from Retry-After, if any
	Err        error
}

func (e *SinkError) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Status != 0 {
		return fmt.Sprintf("%s (HTTP %d): %s", e.Class, e.Status, msg)
	}
	return fmt.Sprintf("%s: %s", e.Class, msg)
}

func (e *SinkError) Unwrap() error { return e.Err }

// ClassifyStatus maps an HTTP status to a failure class; alreadyEnrolled is
// the caller's reading of HubSpot's 400 message (hubspot.IsAlreadyEnrolled).
func ClassifyStatus(status int, alreadyEnrolled bool) FailureClass {
	switch {
	case alreadyEnrolled:
		return AlreadyEnrolled
	case status == 429:
		return Retryable
	case status == 401 || status == 403:
		return Unusable
	case status == 408 || status >= 500:
		return Ambiguous
	case status >= 400:
		return Permanent
	}
	return Ambiguous
}

// Classify says what err means for retrying. Errors that are not SinkErrors
// count as ambiguous unless they prove the request never left (a refused
// connection, a DNS failure): when in doubt, check the status first.
func Classify(err error) FailureClass {
	var se *SinkError
	if errors.As(err, &se) {
		return se.Class
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return Retryable
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return Retryable
	}
	return Ambiguous
}
