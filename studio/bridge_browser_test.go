package studio

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	bt "github.com/scorebridge/scorebridge/bridge/bridgetest"
)

// TestBrowserBridgeQuota runs a real bridge (broker, HubSpot sandbox,
// state store) with an API token, fills one sender's daily cap so a
// crossing of a history contact is held for quota, and checks that the
// Bridge page shows each sender's quota use exactly as the bridge's
// GET /quota answers it, and that the contact page shows the bridge's
// decision for that contact.
func TestBrowserBridgeQuota(t *testing.T) {
	e := bt.NewEnv(t, 190)
	o := e.Options(nil)
	o.APIToken = "studio-bridge-token"
	r := bt.Start(t, o)
	f := newFixture(t, Config{BridgeURL: "http://" + r.Addr, BridgeToken: o.APIToken})
	contact := f.lines[0].ContactID

	e.Produce(t, bt.Crossing("a1", "engagement", "sales", "u-1", "lead"),
		bt.Crossing("q1", "fit", "default", "u-2", "lead"), bt.Crossing("q2", "fit", "default", "u-2", "lead"))
	bt.WaitFor(t, 20*time.Second, "3 enrollments", func() bool { return len(e.Enrollments()) == 3 })
	e.Produce(t, bt.Crossing(contact, "fit", "default", "u-2", "lead"))
	bt.WaitFor(t, 20*time.Second, "the history contact held for quota", func() bool {
		return r.Metric(t, `bridge_decisions_total{kind="held",reason="quota"}`) == 1
	})

	req, _ := http.NewRequest(http.MethodGet, "http://"+r.Addr+"/quota", nil)
	req.Header.Set("Authorization", "Bearer "+o.APIToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var q BridgeQuota
	if err := json.Unmarshal(body, &q); err != nil || len(q.Senders) != 2 {
		t.Fatalf("bridge /quota: %v %s", err, body)
	}

	ctx := browser(t)
	open(t, ctx, f.ts.URL+"/bridge")
	if e := text(t, ctx, "#error"); e != "" {
		t.Fatalf("error shown: %s", e)
	}
	for _, s := range q.Senders {
		row := fmt.Sprintf(`[data-testid=quota] tr[data-owner=%q] `, s.OwnerID)
		want := map[string]string{
			"enrollments": fmt.Sprintf("%d / %d", s.Enrollments, s.EnrollmentsCap),
			"sends":       fmt.Sprintf("%d / %d", s.ProjectedSends, s.SendsCap),
			"held-quota":  fmt.Sprint(s.HeldForQuota),
		}
		for id, w := range want {
			if got := text(t, ctx, row+`[data-testid=`+id+`]`); got != w {
				t.Errorf("%s %s shown %q, the bridge answered %q", s.OwnerID, id, got, w)
			}
		}
	}
	if ben := q.Senders[1]; ben.Enrollments != 2 || ben.HeldForQuota != 1 || !ben.AtCap {
		t.Errorf("the bridge's answer for ben: %+v", ben)
	}
	shot(t, ctx, "bridge-quota")

	open(t, ctx, f.ts.URL+"/contacts/"+contact)
	if note := text(t, ctx, `[data-testid=decisions-note]`); note != "(missing)" {
		t.Fatalf("decisions not read from the bridge: %s", note)
	}
	if got := strings.Join(texts(t, ctx, `table tbody tr`), "\n"); !strings.Contains(got, "heldquota") {
		t.Errorf("the contact page does not show the held:quota decision: %q", got)
	}
}
