package enrollment

import (
	"time"

	"github.com/scorebridge/scorebridge/events"
)

// Kind is the family of a decision; with its reason it makes the recorded
// outcome, e.g. "suppressed:lifecycle_stage".
type Kind string

// Decision kinds. Only KindHeld is not final: a held crossing waits in the
// durable queue and is decided again when released.
const (
	KindEnrolled        Kind = "enrolled"
	KindAlreadyEnrolled Kind = "already_enrolled"
	KindSuppressed      Kind = "suppressed"
	KindExcluded        Kind = "excluded"
	KindHeld            Kind = "held"
	KindFailed          Kind = "failed"
	KindNoRoute         Kind = "no_route"
	KindNoSender        Kind = "no_sender"
	// KindWorkflowUnenrolled audits a delayed exit from a conflicting
	// workflow (Bridge.RetryUnenrolls); it follows the sequence's enrolled
	// decision under the same crossing id.
	KindWorkflowUnenrolled Kind = "workflow_unenrolled"
)

// Reasons used with the kinds above, each declared once, here, through
// reason: that fills the table the bridge_decisions_total reason label is
// derived from, so a new reason has its own label and cannot fall into
// "remote" by accident. Any other reason (failed:<HubSpot's message>) is
// labelled "remote".
var (
	ReasonLifecycleStage  = reason("lifecycle_stage")
	ReasonEmailDomain     = reason("email_domain")
	ReasonContactList     = reason("contact_list")
	ReasonCompanyList     = reason("company_list")
	ReasonCompanyActive   = reason("company_active")       // excluded: another contact of the company is in a sequence
	ReasonConflictingSeq  = reason("conflicting_sequence") // excluded: workflow blocked by an active sequence of the same theme
	ReasonQuota           = reason("quota")
	ReasonBusinessHours   = reason("business_hours")
	ReasonSinkUnavailable = reason("sink_unavailable")
	ReasonHoldExpired     = reason("hold_expired")
	ReasonNoEmail         = reason("no_email")
	ReasonLedger          = reason("ledger") // already_enrolled: known from the bridge's ledger
	ReasonStatus          = reason("status") // already_enrolled: confirmed by the sink's status call
	ReasonUnenroll        = reason("unenroll")
)

// reasons is the table of the bridge's own reasons ("" for none).
var reasons = map[string]bool{"": true}

// reason declares a reason of the bridge's own.
func reason(name string) string {
	reasons[name] = true
	return name
}

// reasonLabel is the metrics label of a reason.
func reasonLabel(reason string) string {
	if reasons[reason] {
		return reason
	}
	return "remote" // HubSpot's message: unbounded, kept out of labels
}

// TargetKind says whether a route enrolls into a sequence or a workflow.
type TargetKind string

// Target kinds.
const (
	TargetSequence TargetKind = "sequence"
	TargetWorkflow TargetKind = "workflow"
)

// Target is a sequence or a workflow id.
type Target struct {
	Kind TargetKind `json:"kind"`
	ID   string     `json:"id"`
}

// Decision is what the bridge decided for one crossing, and why.
type Decision struct {
	CrossingID    string  `json:"crossing_id"`
	ContactID     string  `json:"contact_id"`
	CompanyID     string  `json:"company_id,omitempty"`
	Model         string  `json:"model"`
	ThresholdName string  `json:"threshold_name,omitempty"`
	Score         float64 `json:"score"`
	Kind          Kind    `json:"kind"`
	Reason        string  `json:"reason,omitempty"`
	Outcome       string  `json:"decision"` // Kind[:Reason], the value queried in the audit
	Detail        string  `json:"detail,omitempty"`
	Stage         string  `json:"stage,omitempty"`
	Target        *Target `json:"target,omitempty"`
	OwnerID       string  `json:"owner_id,omitempty"`
	SenderEmail   string  `json:"sender_email,omitempty"`
	EnrollmentID  string  `json:"enrollment_id,omitempty"`
	// ConfirmedBy says how an enrolled sequence enrollment is known:
	// "response" (HubSpot answered the call) or "status" (the answer was
	// lost or the run died; the status check showed it, enrolled by the
	// sender's user).
	ConfirmedBy string `json:"confirmed_by,omitempty"`
	// MayHaveEnrolled: a call of ours may have enrolled the contact and no
	// status check has said otherwise (a held decision), or a final
	// decision counted such a call against the sender's cap.
	MayHaveEnrolled bool `json:"may_have_enrolled,omitempty"`
	// InSequence is the sequence the contact was found in (already_enrolled,
	// excluded:conflicting_sequence, excluded:company_active).
	InSequence string `json:"in_sequence,omitempty"`
	// Unenrolled lists workflows the contact was taken out of because the
	// sequence it entered conflicts with them; UnenrollFailed those that
	// could not be left (the sequence enrollment stands).
	Unenrolled     []string `json:"unenrolled_workflows,omitempty"`
	UnenrollFailed []string `json:"unenroll_failed,omitempty"`
	// UnenrollPending lists the conflicting workflows queued durably, with
	// the enrollment, for the contact to leave. The Bridge makes those
	// calls once the sender's lock is released; each exit is then recorded
	// as its own workflow_unenrolled decision (or failed:unenroll), and a
	// call that fails stays queued for RetryUnenrolls.
	UnenrollPending []string  `json:"unenroll_pending,omitempty"`
	NotBefore       time.Time `json:"not_before,omitzero"` // held: earliest release
	DecidedAt       time.Time `json:"decided_at"`
}

// Final reports whether the crossing is done with (everything but held).
func (d *Decision) Final() bool { return d.Kind != KindHeld }

func decide(a *Attempt, k Kind, reason, detail string) *Decision {
	d := &Decision{Kind: k, Reason: reason, Detail: detail}
	d.fill(a)
	return d
}

// fill copies the crossing and attempt context into the decision.
func (d *Decision) fill(a *Attempt) {
	c := a.Crossing
	d.CrossingID, d.ContactID, d.CompanyID = c.CrossingID, c.ContactID, c.CompanyID
	d.Model, d.ThresholdName, d.Score = c.Model, c.ThresholdName, c.Score
	if a.Route != nil && d.Target == nil {
		t := a.Route.Target()
		d.Target = &t
	}
	if a.Sender != nil {
		d.OwnerID, d.SenderEmail = a.Sender.OwnerID, a.Sender.Email
	}
	d.Outcome = string(d.Kind)
	if d.Reason != "" {
		d.Outcome += ":" + d.Reason
	}
	d.DecidedAt = a.Now.UTC()
}

func held(a *Attempt, reason string, notBefore time.Time, detail string) *Decision {
	d := decide(a, KindHeld, reason, detail)
	d.NotBefore = notBefore.UTC()
	return d
}

// Attempt is one crossing travelling through the pipeline; stages fill in
// what later stages need.
type Attempt struct {
	Crossing events.Crossing
	// Now is the decision time; stages read no other clock.
	Now    time.Time
	Route  *Route
	Sender *SenderConfig
	// Sequence and Schedule are set by Quota for sequence targets: the
	// sequence's steps and the projected email send times.
	Sequence *SequenceInfo
	Schedule []time.Time

	// leaveLater: the Bridge takes the contact out of conflicting
	// workflows after the decision is durable and the sender's lock is
	// released; the Send stage only queues the exits.
	leaveLater bool
	// settled: any earlier call of ours for this crossing has been
	// settled (there was none, or the status showed no enrollment), so
	// no stage need ask again.
	settled bool
	// maybeEnrolled: a call of ours may have enrolled the contact and no
	// status check has said otherwise; the store keeps counting it.
	maybeEnrolled bool
}

// Email is the contact's email as sent with the crossing, or "".
func (a *Attempt) Email() string { return contactString(a.Crossing.Contact, "email") }
