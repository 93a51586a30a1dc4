package hubspot

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

var (
	// ErrAmbiguous marks a call whose outcome is unknown: the request may
	// have been applied (a timeout or a dropped connection after it was
	// sent, or a 5xx). An enrollment that fails this way must not be sent
	// again before GetContactEnrollment shows the contact is not enrolled.
	ErrAmbiguous = errors.New("hubspot: outcome unknown")
	// ErrAlreadyEnrolled matches HubSpot's 400 "Contact already enrolled in
	// a sequence", and the same finding made by a status check.
	ErrAlreadyEnrolled = errors.New("hubspot: contact already enrolled in a sequence")
	// ErrNotEnrolled is GetContactEnrollment's answer for a contact in no
	// active sequence.
	ErrNotEnrolled = errors.New("hubspot: contact not enrolled in a sequence")
	// ErrNoConnectedInbox matches 400 "User X has no connected inboxes for
	// specified user email".
	ErrNoConnectedInbox = errors.New("hubspot: sender has no connected inbox")
	// ErrSendLimit matches the sandbox's refusal of an enrollment that would
	// push the sender's inbox over its rolling 24 h send cap.
	ErrSendLimit = errors.New("hubspot: inbox send limit")
)

// APIError is an answer of HubSpot other than 2xx. It carries HubSpot's own
// message, category and correlationId, never the token.
type APIError struct {
	Op            string
	Method        string
	Path          string // without the query string
	Status        int
	Category      string
	SubCategory   string
	Message       string
	CorrelationID string
	// PolicyName is TEN_SECONDLY_ROLLING or DAILY on a 429.
	PolicyName string
	RetryAfter time.Duration
	Details    []ErrorDetail
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "hubspot %s: %s %s: %d", e.Op, e.Method, e.Path, e.Status)
	if e.Category != "" {
		b.WriteString(" " + e.Category)
	}
	if e.PolicyName != "" {
		b.WriteString(" " + e.PolicyName)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.CorrelationID != "" {
		b.WriteString(" (correlationId " + e.CorrelationID + ")")
	}
	return b.String()
}

// Retryable reports whether the same request may succeed later: 429 and 5xx.
// For an enrollment a 5xx is also ambiguous; see ErrAmbiguous.
func (e *APIError) Retryable() bool {
	return e.Status == 429 || e.Status >= 500
}

// Is lets errors.Is recognise HubSpot's answers by meaning.
func (e *APIError) Is(target error) bool {
	msg := strings.ToLower(e.Message)
	switch target {
	case ErrAlreadyEnrolled:
		return e.Status == 400 && strings.Contains(msg, "already enrolled in a sequence")
	case ErrNoConnectedInbox:
		return e.Status == 400 && strings.Contains(msg, "no connected inboxes")
	case ErrSendLimit:
		return e.Status == 400 && e.SubCategory == "SEND_LIMIT_EXCEEDED"
	}
	return false
}

// IsAlreadyEnrolled reports whether err says the contact is already in a
// sequence.
func IsAlreadyEnrolled(err error) bool { return errors.Is(err, ErrAlreadyEnrolled) }

// IsRetryable reports whether err is worth retrying later as it is: a 429,
// a 5xx or a transport failure of a request that is safe to repeat.
// Ambiguous enrollments are not.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, ErrAmbiguous) {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Retryable()
	}
	var te *TransportError
	return errors.As(err, &te)
}

// TransportError is a request that got no HTTP answer.
type TransportError struct {
	Op     string
	Method string
	Path   string
	// Sent is true unless the request certainly never reached HubSpot (no
	// connection was made): when true, HubSpot may have acted on it.
	Sent bool
	Err  error
}

func (e *TransportError) Error() string {
	when := "before the request was sent"
	if e.Sent {
		when = "after the request may have been sent"
	}
	return fmt.Sprintf("hubspot %s: %s %s: %s: %v", e.Op, e.Method, e.Path, when, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }
