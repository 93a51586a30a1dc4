package enrollment

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/hubspot/sandbox"
)

const sandboxYAML = `
token: t0ken
contacts_auto: true
contact_email_template: "contact-{id}@example.net"
senders:
  - {owner_id: "u-1", user_id: "101", email: "ana@example.com", daily_send_cap: 500}
sequences:
  - id: "9001"
    name: "Sales"
    user_id: "101"
    steps:
      - {action: EMAIL}
      - {action: TASK, task_type: CALL, delay: 4h}
      - {action: EMAIL, delay_days: 2}
workflows:
  - {id: 501, name: "Pricing nurture"}
  - {id: 509, name: "Newsletter"}
`

type sandboxRig struct {
	box    *sandbox.Sandbox
	client *hubspot.Client
	bridge *Bridge
}

func newSandboxRig(t *testing.T) *sandboxRig {
	t.Helper()
	scfg, err := sandbox.ParseConfig([]byte(sandboxYAML))
	if err != nil {
		t.Fatal(err)
	}
	box, err := sandbox.New(scfg, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(box)
	t.Cleanup(srv.Close)
	client, err := hubspot.NewClient(hubspot.ClientConfig{BaseURL: srv.URL, Token: "t0ken",
		RequestsPerInterval: 1000, Interval: time.Second, MaxAttempts: 1, AttemptTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b := NewBridge(testCfg(t), openStore(t, t.TempDir()), HubSpotSink{Client: client}, nil,
		func() time.Time { return t0 }, Retry{Sleep: noSleep})
	return &sandboxRig{box: box, client: client, bridge: b}
}

func sandboxCrossing(id string, mods ...func(*events.Crossing)) events.Crossing {
	return crossing(id, append([]func(*events.Crossing){func(c *events.Crossing) {
		c.ContactID = "7"
		c.Contact["email"] = "contact-7@example.net"
	}}, mods...)...)
}

func (r *sandboxRig) sequenceEnrollments(contact string) int {
	n := 0
	for _, e := range r.box.State().Sequences {
		if e.ContactID == contact {
			n++
		}
	}
	return n
}

func (r *sandboxRig) workflowLog() string {
	var out []string
	for _, e := range r.box.State().Workflows {
		out = append(out, e.Action)
	}
	return strings.Join(out, ",")
}

func TestSandboxNurtureThenSales(t *testing.T) {
	r := newSandboxRig(t)
	if res := handle(t, r.bridge, sandboxCrossing("n", nurture)); res.Decision.Outcome != "enrolled" {
		t.Fatalf("nurture: %+v", res.Decision)
	}
	res := handle(t, r.bridge, sandboxCrossing("s"))
	if res.Decision.Outcome != "enrolled" || strings.Join(res.Decision.Unenrolled, ",") != "501" || len(res.Decision.UnenrollFailed) != 0 {
		t.Fatalf("sales: %+v", res.Decision)
	}
	if got := r.workflowLog(); got != "ENROLLED,UNENROLLED" {
		t.Errorf("workflow log %s", got)
	}
	if n := r.sequenceEnrollments("7"); n != 1 {
		t.Errorf("%d sequence enrollments", n)
	}
}

func TestSandboxSalesThenLateNurture(t *testing.T) {
	r := newSandboxRig(t)
	handle(t, r.bridge, sandboxCrossing("s"))
	res := handle(t, r.bridge, sandboxCrossing("n", nurture))
	if res.Decision.Outcome != "excluded:conflicting_sequence" {
		t.Fatalf("late nurture: %+v", res.Decision)
	}
	if got := r.workflowLog(); got != "" {
		t.Errorf("workflow touched: %s", got)
	}
}

// The connection drops after HubSpot stored the enrollment: exactly one
// enrollment, recorded as enrolled, whichever side checks the status.
func TestSandboxAmbiguousEnrollment(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults sandbox.Faults
	}{
		{"dropped", sandbox.Faults{DropAfterEnrollNext: 1}},
		{"502 after storing", sandbox.Faults{ErrorAfterEnrollNext: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newSandboxRig(t)
			if err := r.box.SetFaults(tc.faults); err != nil {
				t.Fatal(err)
			}
			res := handle(t, r.bridge, sandboxCrossing("s"))
			if res.Decision.Outcome != "enrolled" || res.Decision.EnrollmentID == "" || res.Decision.ConfirmedBy != ConfirmedByStatus {
				t.Fatalf("%+v", res.Decision)
			}
			if n := r.sequenceEnrollments("7"); n != 1 {
				t.Errorf("%d enrollments at HubSpot", n)
			}
		})
	}
}

func TestSandboxRefusals(t *testing.T) {
	t.Run("enrolled by a rep beforehand", func(t *testing.T) {
		r := newSandboxRig(t)
		if _, err := r.client.Enroll(context.Background(), hubspot.EnrollRequest{UserID: "101", ContactID: "7", SequenceID: "9001", SenderEmail: "ana@example.com"}); err != nil {
			t.Fatal(err)
		}
		res := handle(t, r.bridge, sandboxCrossing("s"))
		if res.Decision.Outcome != "already_enrolled:status" || res.Decision.InSequence != "9001" {
			t.Fatalf("%+v", res.Decision)
		}
	})
	t.Run("unknown sequence", func(t *testing.T) {
		r := newSandboxRig(t)
		r.bridge.Config.Routes[3].SequenceID = "4040"
		res := handle(t, r.bridge, sandboxCrossing("f", func(c *events.Crossing) { c.Model = "fit"; c.Score = 90 }))
		if res.Decision.Kind != KindFailed {
			t.Fatalf("%+v", res.Decision)
		}
	})
	t.Run("workflow outage retried, nothing lost", func(t *testing.T) {
		r := newSandboxRig(t)
		if err := r.box.SetFaults(sandbox.Faults{FailNext: 2}); err != nil {
			t.Fatal(err)
		}
		res := handle(t, r.bridge, sandboxCrossing("n", nurture, func(c *events.Crossing) { c.ContactID = "8"; c.Contact["email"] = "contact-8@example.net" }))
		if res.Decision.Outcome != "enrolled" {
			t.Fatalf("%+v", res.Decision)
		}
	})
}
