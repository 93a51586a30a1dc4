package bridge_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	bt "github.com/scorebridge/scorebridge/bridge/bridgetest"
	"github.com/scorebridge/scorebridge/hubspot"
)

// quotaAnswer is GET /quota as a client reads it.
type quotaAnswer struct {
	At      time.Time `json:"at"`
	Senders []struct {
		OwnerID        string    `json:"owner_id"`
		Email          string    `json:"email"`
		Enrollments    int       `json:"enrollments"`
		EnrollmentsCap int       `json:"daily_enrollments"`
		Pending        int       `json:"pending_calls"`
		ProjectedSends int       `json:"projected_sends"`
		SendsCap       int       `json:"daily_sends"`
		Window         string    `json:"window"`
		AtCap          bool      `json:"at_enrollment_cap"`
		FreesAt        time.Time `json:"frees_at"`
		HeldForQuota   int       `json:"held_for_quota"`
		NextRelease    time.Time `json:"next_release"`
	} `json:"senders"`
}

func getWith(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// GET /quota answers each sender's enrollments and projected sends in
// the rolling window against its caps, as HubSpot (the sandbox) holds
// them: enrollments counted from the sandbox, sends projected from the
// sandbox's sequences at the sandbox's enrollment times; the crossing
// over ben's cap of 2 is held and released when his oldest enrollment
// leaves the window. It needs the API token, like /decisions.
func TestQuotaOverHTTP(t *testing.T) {
	e := bt.NewEnv(t, 190)
	o := e.Options(nil)
	o.APIToken = "quota-test-token"
	r := bt.Start(t, o)

	e.Produce(t, bt.Crossing("a1", "engagement", "sales", "u-1", "lead"), bt.Crossing("a2", "engagement", "sales", "u-1", "lead"))
	e.Produce(t, bt.Crossing("q1", "fit", "default", "u-2", "lead"), bt.Crossing("q2", "fit", "default", "u-2", "lead"))
	bt.WaitFor(t, 20*time.Second, "4 enrollments", func() bool { return len(e.Enrollments()) == 4 })
	e.Produce(t, bt.Crossing("q3", "fit", "default", "u-2", "lead"))
	bt.WaitFor(t, 20*time.Second, "q3 held for quota", func() bool {
		return r.Metric(t, `bridge_decisions_total{kind="held",reason="quota"}`) == 1
	})

	if code, _ := getWith(t, "http://"+r.Addr+"/quota", ""); code != http.StatusUnauthorized {
		t.Fatalf("GET /quota without the token: %d, want 401", code)
	}
	code, body := getWith(t, "http://"+r.Addr+"/quota", o.APIToken)
	if code != http.StatusOK {
		t.Fatalf("GET /quota: %d %s", code, body)
	}
	var q quotaAnswer
	if err := json.Unmarshal(body, &q); err != nil {
		t.Fatalf("%v: %s", err, body)
	}

	// What HubSpot holds: enrollments per user and their projected sends.
	hc, err := hubspot.NewClient(hubspot.ClientConfig{BaseURL: e.HubURL, Token: bt.Token})
	if err != nil {
		t.Fatal(err)
	}
	userOf := map[string]string{"u-1": "101", "u-2": "102"}
	enrolled := map[string]int{}
	sends := map[string][]time.Time{}
	oldest := map[string]time.Time{}
	for _, s := range e.Sandbox.State().Sequences {
		seq, err := hc.GetSequence(bt.Context(t, 10*time.Second), s.SequenceID, s.UserID)
		if err != nil {
			t.Fatal(err)
		}
		enrolled[s.UserID]++
		sends[s.UserID] = append(sends[s.UserID], hubspot.SendTimes(seq.EmailSendOffsets(), s.EnrolledAt)...)
		if o, ok := oldest[s.UserID]; !ok || s.EnrolledAt.Before(o) {
			oldest[s.UserID] = s.EnrolledAt
		}
	}
	if len(q.Senders) != 2 || q.Senders[0].OwnerID != "u-1" || q.Senders[1].OwnerID != "u-2" {
		t.Fatalf("senders: %s", body)
	}
	for _, s := range q.Senders {
		user := userOf[s.OwnerID]
		wantSends := hubspot.MaxSendsWithNew(nil, sends[user], hubspot.SendWindow)
		if s.Enrollments != enrolled[user] || s.Enrollments != 2 || s.Pending != 0 || s.ProjectedSends != wantSends || wantSends == 0 || s.Window != "24h0m0s" {
			t.Errorf("%s: enrollments %d (HubSpot %d), projected sends %d (HubSpot %d), window %s",
				s.OwnerID, s.Enrollments, enrolled[user], s.ProjectedSends, wantSends, s.Window)
		}
		// The bridge times an enrollment just before HubSpot stores it.
		if d := oldest[user].Add(hubspot.SendWindow).Sub(s.FreesAt); d < 0 || d > 5*time.Second {
			t.Errorf("%s: frees at %s, HubSpot's oldest enrollment + 24h is %s", s.OwnerID, s.FreesAt, oldest[user].Add(hubspot.SendWindow))
		}
	}
	ana, ben := q.Senders[0], q.Senders[1]
	if ana.EnrollmentsCap != 80 || ana.SendsCap != 500 || ana.AtCap || ana.HeldForQuota != 0 || !ana.NextRelease.IsZero() {
		t.Errorf("ana: %+v", ana)
	}
	if ben.EnrollmentsCap != 2 || !ben.AtCap || ben.HeldForQuota != 1 || !ben.NextRelease.Equal(ben.FreesAt) {
		t.Errorf("ben: %+v (held q3 released at %s, want when his oldest enrollment leaves the window %s)", ben, ben.NextRelease, ben.FreesAt)
	}
}
