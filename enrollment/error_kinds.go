package enrollment

import "strings"

// ErrorKind labels bridge_errors_total. Every kind the service counts is
// declared here, and the metric's help is made from this list, so the two
// cannot drift apart (error_kinds_test.go checks the callers).
type ErrorKind string

const (
	// ErrCrossing: a crossing could not be decided durably (store or DLQ);
	// retried until it is.
	ErrCrossing ErrorKind = "crossing_error"
	// ErrOutbox: decisions could not be handed to the audit.
	ErrOutbox ErrorKind = "outbox"
	// ErrFlush, ErrRelease, ErrPrune: a periodic task failed; retried next tick.
	ErrFlush   ErrorKind = "flush"
	ErrRelease ErrorKind = "release"
	ErrPrune   ErrorKind = "prune"
	// ErrAPICallAudit: an API call row could not be queued for ClickHouse.
	ErrAPICallAudit ErrorKind = "api_call_audit"
	// ErrClickHouse: a ClickHouse attempt failed (an audit insert, or the
	// connection at start); retried with backoff.
	ErrClickHouse ErrorKind = "clickhouse"
)

// ErrorKinds lists every ErrorKind, in the order the help shows them.
var ErrorKinds = []ErrorKind{ErrCrossing, ErrOutbox, ErrFlush, ErrRelease, ErrPrune, ErrAPICallAudit, ErrClickHouse}

func errorsHelp() string {
	names := make([]string, len(ErrorKinds))
	for i, k := range ErrorKinds {
		names[i] = string(k)
	}
	return "Errors by kind (" + strings.Join(names, ", ") + ")."
}
