package enrollment

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/hubspot/sandbox"
)

// accountRig is a bridge over the HubSpot sandbox (HTTP) whose config adds
// company routes to the test config.
func accountRig(t *testing.T, routes ...Route) (*Bridge, *sandbox.Sandbox) {
	t.Helper()
	scfg, err := sandbox.ParseConfig([]byte(sandboxYAML))
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: t0}
	box, err := sandbox.New(scfg, sandbox.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(box)
	t.Cleanup(srv.Close)
	client, err := hubspot.NewClient(hubspot.ClientConfig{BaseURL: srv.URL, Token: "t0ken",
		RequestsPerInterval: 1000, Interval: time.Second, MaxAttempts: 3,
		InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, AttemptTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testCfg(t, func(c *Config) {
		for _, r := range routes {
			if r.When != "" {
				if r.program, err = compileWhen(r.When); err != nil {
					t.Fatal(err)
				}
			}
			c.Routes = append([]Route{r}, c.Routes...)
		}
	})
	metrics := NewServiceMetrics(prometheus.NewRegistry(), func() float64 { return 0 })
	b := NewBridge(cfg, openStore(t, t.TempDir()), metrics.MeterSink(HubSpotSink{Client: client}), nil, clk.Now, Retry{Sleep: noSleep, MaxAttempts: 2})
	return b, box
}

// accountCrossing is a company crossing of co-1 with three members: the
// highest owned by someone who is not a sender.
func accountCrossing(id string) events.Crossing {
	member := func(cid string, score float64, role, owner string) events.CompanyMember {
		return events.CompanyMember{ContactID: cid, Score: score, Role: role, OwnerID: owner, Contact: map[string]any{
			"job_role": role, "owner_id": owner, "email": "contact-" + cid + "@example.net", "lifecycle_stage": "lead", "timezone": "America/New_York"}}
	}
	return events.Crossing{
		CrossingID: id, Level: events.LevelCompany, CompanyID: "co-1", ContactID: "33", Model: "acct",
		Score: 95, Threshold: 80, ThresholdName: "default", CrossedAt: t0.Add(-time.Minute), EventID: "e-" + id,
		Members: []events.CompanyMember{member("31", 50, "champion", "u-9"), member("32", 40, "economic_buyer", "u-1"), member("33", 30, "champion", "u-1")},
	}
}

func enrolledIn(box *sandbox.Sandbox) map[string]string {
	out := map[string]string{}
	for _, e := range box.State().Sequences {
		out[e.ContactID] = e.UserID
	}
	return out
}

func TestAccountRouting(t *testing.T) {
	t.Run("the highest-scoring member whose owner is a sender", func(t *testing.T) {
		b, box := accountRig(t, Route{Level: "company", Model: "acct", SequenceID: "9001"})
		res := handle(t, b, accountCrossing("x1"))
		d := res.Decision
		if d.Outcome != "enrolled" || d.ContactID != "32" || d.CompanyID != "co-1" || d.CrossingID != "x1" {
			t.Fatalf("decision %+v", d)
		}
		if got := enrolledIn(box); got["32"] != "101" || len(got) != 1 {
			t.Errorf("sandbox enrollments %v", got)
		}
		if res := handle(t, b, accountCrossing("x1")); !res.Duplicate {
			t.Error("a redelivered company crossing decided again")
		}
	})
	t.Run("when filters members by role", func(t *testing.T) {
		b, box := accountRig(t, Route{Level: "company", Model: "acct", When: `contact.job_role == "champion"`, SequenceID: "9001"})
		if d := handle(t, b, accountCrossing("x2")).Decision; d.Outcome != "enrolled" || d.ContactID != "33" {
			t.Fatalf("decision %+v", d)
		}
		if got := enrolledIn(box); got["33"] != "101" {
			t.Errorf("sandbox enrollments %v", got)
		}
	})
	t.Run("no member with a sender", func(t *testing.T) {
		b, box := accountRig(t, Route{Level: "company", Model: "acct", When: `contact.job_role == "cfo"`, SequenceID: "9001"})
		d := handle(t, b, accountCrossing("x3")).Decision
		if d.Kind != KindNoSender || !strings.Contains(d.Detail, "no member of company co-1") {
			t.Fatalf("decision %+v", d)
		}
		if len(enrolledIn(box)) != 0 {
			t.Error("enrolled someone")
		}
	})
	t.Run("company routes do not take contact crossings, nor contact routes company crossings", func(t *testing.T) {
		b, _ := accountRig(t, Route{Level: "company", Model: "engagement", SequenceID: "9001"})
		if d := handle(t, b, crossing("c4", sandboxContact("41"))).Decision; d.Outcome != "enrolled" || d.ContactID != "41" {
			t.Fatalf("contact crossing: %+v", d)
		}
		x := accountCrossing("x4")
		x.Model = "fit" // a contact route exists for fit
		if d := handle(t, b, x).Decision; d.Kind != KindNoRoute {
			t.Fatalf("company crossing on a contact route: %+v", d)
		}
	})
	t.Run("company_exclusive holds across account and contact crossings", func(t *testing.T) {
		b, box := accountRig(t, Route{Level: "company", Model: "acct", SequenceID: "9001"})
		// A contact of co-1 is enrolled from its own crossing first ...
		c := crossing("c5", sandboxContact("51"), func(c *events.Crossing) { c.CompanyID = "co-1" })
		if d := handle(t, b, c).Decision; d.Outcome != "enrolled" {
			t.Fatalf("contact crossing: %+v", d)
		}
		// ... so the account crossing of co-1 enrolls nobody ...
		if d := handle(t, b, accountCrossing("x5")).Decision; d.Kind != KindExcluded || d.Reason != ReasonCompanyActive {
			t.Fatalf("account crossing: %+v", d)
		}
		// ... and after an account enrollment of co-2, a contact crossing of co-2 is excluded.
		x := accountCrossing("x6")
		x.CompanyID = "co-2"
		if d := handle(t, b, x).Decision; d.Outcome != "enrolled" || d.ContactID != "32" {
			t.Fatalf("account crossing co-2: %+v", d)
		}
		c = crossing("c6", sandboxContact("61"), func(c *events.Crossing) { c.CompanyID = "co-2" })
		if d := handle(t, b, c).Decision; d.Kind != KindExcluded || d.Reason != ReasonCompanyActive {
			t.Fatalf("contact crossing after an account enrollment: %+v", d)
		}
		if got := enrolledIn(box); len(got) != 2 || got["51"] == "" || got["32"] == "" {
			t.Errorf("sandbox enrollments %v", got)
		}
	})
}

// An account crossing goes, as its chosen member's, through the stages a
// contact's does: the company's suppression, the member's lifecycle
// stage, the member's sender's daily quota, the member's business hours.
func TestAccountRoutingStages(t *testing.T) {
	route := Route{Level: "company", Model: "acct", SequenceID: "9001"}
	// of is accountCrossing for company co with its members renamed, so
	// that crossings of several companies choose distinct contacts.
	of := func(id, co string, mods ...func(*events.CompanyMember)) events.Crossing {
		x := accountCrossing(id)
		x.CompanyID = co
		for i := range x.Members {
			m := &x.Members[i]
			m.ContactID = co + "-" + m.ContactID
			m.Contact["email"] = "contact-" + m.ContactID + "@example.net"
			for _, f := range mods {
				f(m)
			}
		}
		return x
	}
	t.Run("a suppressed company", func(t *testing.T) {
		b, box := accountRig(t, route)
		if d := handle(t, b, of("s1", "c-bad")).Decision; d.Kind != KindSuppressed || d.Reason != ReasonCompanyList || d.ContactID != "c-bad-32" {
			t.Fatalf("decision %+v", d)
		}
		if len(enrolledIn(box)) != 0 {
			t.Error("enrolled someone")
		}
	})
	t.Run("the member's lifecycle stage", func(t *testing.T) {
		b, box := accountRig(t, route)
		customer := func(m *events.CompanyMember) { m.Contact["lifecycle_stage"] = "customer" }
		if d := handle(t, b, of("s2", "co-7", customer)).Decision; d.Kind != KindSuppressed || d.Reason != ReasonLifecycleStage || d.ContactID != "co-7-32" {
			t.Fatalf("decision %+v", d)
		}
		if len(enrolledIn(box)) != 0 {
			t.Error("enrolled someone")
		}
	})
	t.Run("the member's sender's daily quota", func(t *testing.T) {
		b, box := accountRig(t, route)
		// u-1 may enroll 2 a day: the third company's member waits.
		for i, co := range []string{"co-a", "co-b", "co-c"} {
			d := handle(t, b, of("q"+co, co)).Decision
			if i < 2 && (d.Outcome != "enrolled" || d.ContactID != co+"-32") {
				t.Fatalf("%s: decision %+v", co, d)
			}
			if i == 2 && (d.Kind != KindHeld || d.Reason != ReasonQuota || d.ContactID != "co-c-32") {
				t.Fatalf("%s: decision %+v, want held:quota", co, d)
			}
		}
		if got := enrolledIn(box); len(got) != 2 || got["co-a-32"] != "101" || got["co-b-32"] != "101" {
			t.Errorf("sandbox enrollments %v", got)
		}
	})
	t.Run("the member's business hours", func(t *testing.T) {
		b, box := accountRig(t, route)
		tokyo := func(m *events.CompanyMember) { m.Contact["timezone"] = "Asia/Tokyo" } // 23:00 there
		if d := handle(t, b, of("h1", "co-8", tokyo)).Decision; d.Kind != KindHeld || d.Reason != ReasonBusinessHours || d.ContactID != "co-8-32" {
			t.Fatalf("decision %+v", d)
		}
		if len(enrolledIn(box)) != 0 {
			t.Error("enrolled someone")
		}
	})
}

func TestRouteLevelChecked(t *testing.T) {
	src := strings.Replace(testConfig, "  - {model: fit,", "  - {model: fit, level: account,", 1)
	_, err := ParseConfig("bad.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), `level must be contact or company, got "account"`) {
		t.Fatalf("err = %v", err)
	}
}
