package enrollment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
)

// A Tuesday, 10:00 in New York.
var t0 = time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)

const testConfig = `
sink: dry-run
senders:
  - {owner_id: "u-1", user_id: "101", email: "ana@example.com", daily_enrollments: 2, daily_sends: 5}
  - {owner_id: "u-2", user_id: "102", email: "ben@example.com"}
routes:
  - {model: engagement, threshold: sales, when: 'contact.lifecycle_stage == "lead"', sequence_id: "9001", tags: [pricing]}
  - {model: engagement, threshold: nurture, workflow_id: "501", tags: [pricing]}
  - {model: engagement, threshold: nurture, workflow_id: "509"}
  - {model: fit, when: 'crossing.score >= 80', sequence_id: "9002"}
suppress:
  lifecycle_stages: [customer, Partner]
  email_domains: [competitor.com]
  company_ids: ["c-bad"]
company_exclusive: true
business_hours: {start: "09:00", end: "17:00", weekdays_only: true, default_timezone: "America/New_York"}
conflicts:
  - {sequence_id: "9002", workflow_id: "502"}
hold: {max_age: 72h, retry_after: 5m}
`

func testCfg(t *testing.T, mutate ...func(*Config)) *Config {
	t.Helper()
	cfg, err := ParseConfig("test.yaml", []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Suppress.contacts["k-suppressed"] = true
	for _, m := range mutate {
		m(cfg)
	}
	return cfg
}

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// crossing builds a sales crossing for a lead owned by u-1; mods adjust it.
func crossing(id string, mods ...func(*events.Crossing)) events.Crossing {
	c := events.Crossing{
		CrossingID: id, ContactID: "k-" + id, CompanyID: "co-" + id, Model: "engagement",
		Score: 70, Threshold: 60, ThresholdName: "sales", CrossedAt: t0.Add(-time.Minute), EventID: "e-" + id,
		Contact: map[string]any{"lifecycle_stage": "lead", "owner_id": "u-1", "email": id + "@prospect.com"},
	}
	for _, m := range mods {
		m(&c)
	}
	return c
}

func set(key string, v any) func(*events.Crossing) {
	return func(c *events.Crossing) { c.Contact[key] = v }
}

func nurture(c *events.Crossing) { c.ThresholdName = "nurture"; c.Score = 30 }

// applied marks a scripted Enroll error that HubSpot applied anyway (a
// timeout after acceptance).
type applied struct{ error }

// fakeSink imitates HubSpot's one-sequence rule with scriptable failures.
type fakeSink struct {
	mu          sync.Mutex
	enrollErrs  []error // consumed one per Enroll call; nil entry: normal
	statusErr   error
	seqErr      error
	steps       []Step
	wfErrs      []error // consumed per workflow call
	wfListErr   error
	enrolled    map[string]Enrollment
	workflows   map[string][]string // contact email -> workflows
	enrollCalls int
	statusCalls int
	calls       []string
}

func newFakeSink() *fakeSink {
	return &fakeSink{enrolled: map[string]Enrollment{}, workflows: map[string][]string{}}
}

func (f *fakeSink) Enroll(_ context.Context, r EnrollRequest) (Enrollment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.enrollCalls++
	f.calls = append(f.calls, "enroll "+r.ContactID+" "+r.SequenceID)
	var scripted error
	if len(f.enrollErrs) > 0 {
		scripted, f.enrollErrs = f.enrollErrs[0], f.enrollErrs[1:]
	}
	var ap applied
	if scripted != nil && !errors.As(scripted, &ap) {
		return Enrollment{}, scripted
	}
	if _, ok := f.enrolled[r.ContactID]; ok {
		return Enrollment{}, &SinkError{Class: AlreadyEnrolled, Status: 400, Message: "Contact already enrolled in a sequence"}
	}
	e := Enrollment{ID: fmt.Sprintf("enr-%d", len(f.enrolled)+1), SequenceID: r.SequenceID}
	f.enrolled[r.ContactID] = e
	if scripted != nil {
		return Enrollment{}, ap.error
	}
	return e, nil
}

func (f *fakeSink) Status(_ context.Context, contactID string) (*Enrollment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statusCalls++
	if f.statusErr != nil {
		return nil, f.statusErr
	}
	if e, ok := f.enrolled[contactID]; ok {
		return &e, nil
	}
	return nil, nil
}

func (f *fakeSink) Sequence(_ context.Context, id, _ string) (SequenceInfo, error) {
	if f.seqErr != nil {
		return SequenceInfo{}, f.seqErr
	}
	steps := f.steps
	if steps == nil {
		steps = []Step{{1, 0, "EMAIL"}, {2, 48 * time.Hour, "EMAIL"}, {3, 24 * time.Hour, "TASK"}}
	}
	return SequenceInfo{ID: id, Steps: steps}, nil
}

func (f *fakeSink) wfErr() error {
	if len(f.wfErrs) == 0 {
		return nil
	}
	e := f.wfErrs[0]
	f.wfErrs = f.wfErrs[1:]
	return e
}

func (f *fakeSink) EnrollWorkflow(_ context.Context, w, email string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "wf-enroll "+w+" "+email)
	if err := f.wfErr(); err != nil {
		return err
	}
	if !slices.Contains(f.workflows[email], w) {
		f.workflows[email] = append(f.workflows[email], w)
	}
	return nil
}

func (f *fakeSink) UnenrollWorkflow(_ context.Context, w, email string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "wf-unenroll "+w+" "+email)
	if err := f.wfErr(); err != nil {
		return err
	}
	f.workflows[email] = slices.DeleteFunc(f.workflows[email], func(x string) bool { return x == w })
	return nil
}

// Workflows answers by contact id; the fake keys by email, so tests use
// contact ids equal to the "k-"+local part.
func (f *fakeSink) Workflows(_ context.Context, contactID string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.wfListErr != nil {
		return nil, f.wfListErr
	}
	for email, ws := range f.workflows {
		if "k-"+email[:len(email)-len("@prospect.com")] == contactID {
			return slices.Clone(ws), nil
		}
	}
	return nil, nil
}

var (
	errTimeout   = &SinkError{Class: Ambiguous, Message: "timeout awaiting response"}
	err503       = &SinkError{Class: Ambiguous, Status: 503, Message: "unavailable"}
	err429       = &SinkError{Class: Retryable, Status: 429, Message: "TEN_SECONDLY_ROLLING"}
	err404       = &SinkError{Class: Permanent, Status: 404, Message: "Sequence 9001 not found"}
	errNoInbox   = &SinkError{Class: Permanent, Status: 400, Message: "User 101 has no connected inboxes for specified user email"}
	errSendLimit = &SinkError{Class: OverSendLimit, Status: 400, Message: "send limit exceeded"}
)

func noSleep(context.Context, time.Duration) error { return nil }

// routed runs the Route stage so later stages get a routed attempt.
func routed(t *testing.T, cfg *Config, c events.Crossing, now time.Time) *Attempt {
	t.Helper()
	a := &Attempt{Crossing: c, Now: now}
	if d, err := (RouteStage{Config: cfg}).Exec(context.Background(), a); err != nil || d != nil {
		t.Fatalf("route: %v %+v", err, d)
	}
	return a
}

func outcome(d *Decision) string {
	if d == nil {
		return "pass"
	}
	return d.Outcome
}
