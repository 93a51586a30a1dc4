package enrollment

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// DryRun is the dry-run sink: it enrolls nobody, but keeps the enrollments
// it would have made in memory so that a run's decisions (one sequence per
// contact, conflicts) look as they would against HubSpot.
type DryRun struct {
	// Steps is the sequence assumed for the send projection: one email by
	// default, since a dry run cannot read the portal.
	Steps []Step
	Now   func() time.Time

	mu        sync.Mutex
	seq       map[string]Enrollment
	workflows map[string]map[string]bool // email -> workflow ids
	calls     []string
}

// NewDryRun returns an empty dry-run sink.
func NewDryRun() *DryRun {
	return &DryRun{Now: time.Now, seq: map[string]Enrollment{}, workflows: map[string]map[string]bool{}}
}

// Calls lists what the sink was asked, for tests and the demo.
func (d *DryRun) Calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.calls...)
}

func (d *DryRun) log(format string, args ...any) {
	d.calls = append(d.calls, fmt.Sprintf(format, args...))
}

// Enroll implements Sink.
func (d *DryRun) Enroll(_ context.Context, req EnrollRequest) (Enrollment, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.log("enroll %s %s %s", req.ContactID, req.SequenceID, req.SenderEmail)
	if _, ok := d.seq[req.ContactID]; ok {
		return Enrollment{}, &SinkError{Class: AlreadyEnrolled, Status: 400, Message: "Contact already enrolled in a sequence"}
	}
	e := Enrollment{ID: "dry-" + req.CrossingID, SequenceID: req.SequenceID, EnrolledAt: d.Now()}
	d.seq[req.ContactID] = e
	return e, nil
}

// Status implements Sink.
func (d *DryRun) Status(_ context.Context, contactID string) (*Enrollment, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.seq[contactID]; ok {
		return &e, nil
	}
	return nil, nil
}

// Sequence implements Sink.
func (d *DryRun) Sequence(_ context.Context, sequenceID, _ string) (SequenceInfo, error) {
	steps := d.Steps
	if steps == nil {
		steps = []Step{{Order: 1, Action: "EMAIL"}}
	}
	return SequenceInfo{ID: sequenceID, Steps: steps}, nil
}

// EnrollWorkflow implements Sink.
func (d *DryRun) EnrollWorkflow(_ context.Context, workflowID, email string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.log("workflow enroll %s %s", workflowID, email)
	if d.workflows[email] == nil {
		d.workflows[email] = map[string]bool{}
	}
	d.workflows[email][workflowID] = true
	return nil
}

// UnenrollWorkflow implements Sink.
func (d *DryRun) UnenrollWorkflow(_ context.Context, workflowID, email string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.log("workflow unenroll %s %s", workflowID, email)
	delete(d.workflows[email], workflowID)
	return nil
}

// Workflows implements Sink. The dry run knows workflows by email only.
func (d *DryRun) Workflows(context.Context, string) ([]string, error) {
	return nil, ErrStatusUnknown
}
