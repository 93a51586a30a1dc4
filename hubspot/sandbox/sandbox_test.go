package sandbox_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/hubspot/sandbox"
	"github.com/scorebridge/scorebridge/hubspot/sandbox/sandboxtest"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestSandboxAuth(t *testing.T) {
	_, srv := sandboxtest.Start(t, nil)
	for _, tok := range []string{"", "wrong-token", sandboxtest.Token + "x"} {
		resp, body := raw(t, srv, "GET", "/automation/v4/sequences?userId=101", tok, "")
		if resp.StatusCode != 401 || body["category"] != "INVALID_AUTHENTICATION" || body["status"] != "error" {
			t.Errorf("token %q: %d %v", tok, resp.StatusCode, body)
		}
		if !uuidRE.MatchString(fmt.Sprint(body["correlationId"])) {
			t.Errorf("correlationId %v is not a uuid", body["correlationId"])
		}
	}
	if resp, _ := raw(t, srv, "GET", "/automation/v4/sequences?userId=101", sandboxtest.Token, ""); resp.StatusCode != 200 {
		t.Fatalf("right token: %d", resp.StatusCode)
	}
}

func TestSandboxListSequences(t *testing.T) {
	_, srv := sandboxtest.Start(t, nil)
	tests := []struct {
		query     string
		status    int
		ids       []string
		total     int
		nextAfter string
	}{
		{"userId=101", 200, []string{"9001", "9002", "9010"}, 3, ""},
		{"userId=101&limit=2", 200, []string{"9001", "9002"}, 3, "2"},
		{"userId=101&limit=2&after=2", 200, []string{"9010"}, 3, ""},
		{"userId=101&name=WEBINAR", 200, []string{"9002"}, 1, ""},
		{"userId=101&after=9", 200, []string{}, 3, ""},
		{"", 400, nil, 0, ""},
		{"userId=101&limit=0", 400, nil, 0, ""},
		{"userId=101&limit=101", 400, nil, 0, ""},
		{"userId=101&after=x", 400, nil, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			resp, body := raw(t, srv, "GET", "/automation/v4/sequences?"+tt.query, sandboxtest.Token, "")
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %v", resp.StatusCode, tt.status, body)
			}
			if tt.status != 200 {
				if body["category"] != "VALIDATION_ERROR" {
					t.Errorf("category %v", body["category"])
				}
				return
			}
			b, _ := json.Marshal(body)
			var page hubspot.SequencePage
			_ = json.Unmarshal(b, &page)
			ids := []string{}
			for _, r := range page.Results {
				ids = append(ids, r.ID)
				if r.UserID == "" && r.ID != "9010" || r.CreatedAt.IsZero() {
					t.Errorf("incomplete result %+v", r)
				}
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.ids) || page.Total != tt.total {
				t.Errorf("ids %v total %d, want %v %d", ids, page.Total, tt.ids, tt.total)
			}
			next := ""
			if page.Paging != nil && page.Paging.Next != nil {
				next = page.Paging.Next.After
			}
			if next != tt.nextAfter {
				t.Errorf("next after %q, want %q", next, tt.nextAfter)
			}
		})
	}
}

func TestSandboxGetSequence(t *testing.T) {
	_, srv := sandboxtest.Start(t, nil)
	resp, body := raw(t, srv, "GET", "/automation/v4/sequences/9001?userId=101", sandboxtest.Token, "")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %v", resp.StatusCode, body)
	}
	b, _ := json.Marshal(body)
	var s hubspot.Sequence
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range s.Steps {
		got = append(got, fmt.Sprintf("%d:%s:%d", st.StepOrder, st.ActionType, st.DelayMillis))
	}
	want := "[0:EMAIL:0 1:TASK:3600000 2:EMAIL:3600000 3:EMAIL:7200000]"
	if fmt.Sprint(got) != want {
		t.Errorf("steps %v, want %s", got, want)
	}
	if s.Steps[1].TaskPattern == nil || s.Steps[1].TaskPattern.TaskType != "CALL" || s.Steps[0].EmailPattern == nil {
		t.Errorf("patterns missing: %+v", s.Steps)
	}
	if s.Settings == nil || s.Settings.EligibleFollowUpDays != "BUSINESS_DAYS" || s.Settings.SendWindowStartMinute != 480 || s.Settings.SellingStrategy != "LEAD_BASED" {
		t.Errorf("settings %+v", s.Settings)
	}
	if _, ok := body["dependencies"].([]any); !ok {
		t.Errorf("dependencies must be a list: %v", body["dependencies"])
	}

	resp, body = raw(t, srv, "GET", "/automation/v4/sequences/424242?userId=101", sandboxtest.Token, "")
	if resp.StatusCode != 404 || body["category"] != "OBJECT_NOT_FOUND" {
		t.Errorf("unknown sequence: %d %v", resp.StatusCode, body)
	}
	if resp, _ := raw(t, srv, "GET", "/automation/v4/sequences/9001", sandboxtest.Token, ""); resp.StatusCode != 400 {
		t.Errorf("missing userId: %d", resp.StatusCode)
	}
}

func enrollBody(contact, seq, sender string) string {
	return fmt.Sprintf(`{"contactId":%q,"sequenceId":%q,"senderEmail":%q}`, contact, seq, sender)
}

func TestSandboxEnroll(t *testing.T) {
	sb, srv := sandboxtest.Start(t, nil)
	const path = "/automation/v4/sequences/enrollments?userId=102"
	resp, body := raw(t, srv, "POST", path, sandboxtest.Token, enrollBody("77", "9002", "ben@example.com"))
	if resp.StatusCode != 200 {
		t.Fatalf("%d %v", resp.StatusCode, body)
	}
	if body["id"] == "" || body["toEmail"] != "c77@example.net" || body["enrolledAt"] == nil || body["updatedAt"] == nil || len(body) != 4 {
		t.Errorf("answer %v", body)
	}
	tests := []struct {
		name, path, body string
		status           int
		category, msg    string
	}{
		{"already enrolled, same sequence", path, enrollBody("77", "9002", "ben@example.com"), 400, "VALIDATION_ERROR", "Contact already enrolled in a sequence"},
		{"already enrolled, other sequence", "/automation/v4/sequences/enrollments?userId=101", enrollBody("77", "9001", "ana@example.com"), 400, "VALIDATION_ERROR", "Contact already enrolled in a sequence"},
		{"no connected inbox", "/automation/v4/sequences/enrollments?userId=108", enrollBody("78", "9002", "hugo@example.com"), 400, "VALIDATION_ERROR", "User 108 has no connected inboxes for specified user email"},
		{"sender email not the user's", path, enrollBody("78", "9002", "ana@example.com"), 400, "VALIDATION_ERROR", "User 102 has no connected inboxes for specified user email"},
		{"unknown user", "/automation/v4/sequences/enrollments?userId=999", enrollBody("78", "9002", "ben@example.com"), 400, "VALIDATION_ERROR", "User 999 not found"},
		{"unknown sequence", path, enrollBody("78", "123", "ben@example.com"), 404, "OBJECT_NOT_FOUND", "Sequence with id 123 not found"},
		{"missing fields", path, `{"contactId":"78"}`, 400, "VALIDATION_ERROR", "Invalid input: 2 required field(s) missing"},
		{"missing userId", "/automation/v4/sequences/enrollments", enrollBody("78", "9002", "ben@example.com"), 400, "VALIDATION_ERROR", "Invalid input: 1 required field(s) missing"},
		{"bad json", path, `{`, 400, "VALIDATION_ERROR", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := raw(t, srv, "POST", tt.path, sandboxtest.Token, tt.body)
			if resp.StatusCode != tt.status || body["category"] != tt.category || body["status"] != "error" {
				t.Fatalf("%d %v", resp.StatusCode, body)
			}
			if tt.msg != "" && body["message"] != tt.msg {
				t.Errorf("message %q, want %q", body["message"], tt.msg)
			}
			if !uuidRE.MatchString(fmt.Sprint(body["correlationId"])) || resp.Header.Get("X-HubSpot-Correlation-Id") != body["correlationId"] {
				t.Errorf("correlationId %v / header %q", body["correlationId"], resp.Header.Get("X-HubSpot-Correlation-Id"))
			}
		})
	}
	if n := len(sb.State().Sequences); n != 1 {
		t.Errorf("%d enrollments stored, want 1", n)
	}
}

func TestSandboxKnownContactsOnly(t *testing.T) {
	_, srv := sandboxtest.Start(t, func(c *sandbox.Config) { c.ContactsAuto = false })
	resp, body := raw(t, srv, "POST", "/automation/v4/sequences/enrollments?userId=102", sandboxtest.Token, enrollBody("77", "9002", "ben@example.com"))
	if resp.StatusCode != 404 || body["message"] != "Contact with id 77 not found" {
		t.Errorf("unknown contact: %d %v", resp.StatusCode, body)
	}
	resp, body = raw(t, srv, "POST", "/automation/v4/sequences/enrollments?userId=102", sandboxtest.Token, enrollBody("1001", "9002", "ben@example.com"))
	if resp.StatusCode != 200 || body["toEmail"] != "dana@northwind.example" {
		t.Errorf("listed contact: %d %v", resp.StatusCode, body)
	}
	if resp, _ := raw(t, srv, "POST", "/automation/v2/workflows/5001/enrollments/contacts/c77@example.net", sandboxtest.Token, ""); resp.StatusCode != 404 {
		t.Errorf("derived email without contacts_auto: %d", resp.StatusCode)
	}
}

func TestSandboxContactStatusAndLifecycle(t *testing.T) {
	sb, srv := sandboxtest.Start(t, nil)
	const status = "/automation/v4/sequences/enrollments/contact/77"
	if resp, body := raw(t, srv, "GET", status, sandboxtest.Token, ""); resp.StatusCode != 404 || body["category"] != "OBJECT_NOT_FOUND" {
		t.Fatalf("not enrolled: %d %v", resp.StatusCode, body)
	}
	raw(t, srv, "POST", "/automation/v4/sequences/enrollments?userId=102", sandboxtest.Token, enrollBody("77", "9002", "ben@example.com"))
	resp, body := raw(t, srv, "GET", status, sandboxtest.Token, "")
	if resp.StatusCode != 200 || body["sequenceId"] != "9002" || body["sequenceName"] != "Webinar follow-up" ||
		body["enrolledBy"] != "102" || body["enrolledByEmail"] != "ben@example.com" || body["toEmail"] != "c77@example.net" {
		t.Fatalf("enrolled: %d %v", resp.StatusCode, body)
	}

	// A reply ends the enrollment; the contact can be enrolled again.
	resp, body = raw(t, srv, "POST", "/_sandbox/events", "", `{"contactId":"77","type":"REPLIED"}`)
	if resp.StatusCode != 200 || body["endReason"] != "REPLIED" {
		t.Fatalf("reply: %d %v", resp.StatusCode, body)
	}
	if resp, _ := raw(t, srv, "GET", status, sandboxtest.Token, ""); resp.StatusCode != 404 {
		t.Fatalf("after reply: %d", resp.StatusCode)
	}
	if resp, _ := raw(t, srv, "POST", "/_sandbox/events", "", `{"contactId":"77","type":"REPLIED"}`); resp.StatusCode != 404 {
		t.Errorf("second reply: %d", resp.StatusCode)
	}
	if resp, _ := raw(t, srv, "POST", "/_sandbox/events", "", `{"contactId":"77","type":"LIKED"}`); resp.StatusCode != 404 {
		t.Errorf("bad event type: %d", resp.StatusCode)
	}
	if resp, _ := raw(t, srv, "POST", "/automation/v4/sequences/enrollments?userId=102", sandboxtest.Token, enrollBody("77", "9002", "ben@example.com")); resp.StatusCode != 200 {
		t.Fatalf("re-enroll after reply: %d", resp.StatusCode)
	}
	// The sequence runs two days; after that the enrollment is finished.
	sb.Advance(49 * time.Hour)
	if resp, _ := raw(t, srv, "GET", status, sandboxtest.Token, ""); resp.StatusCode != 404 {
		t.Fatalf("after the last step: %d", resp.StatusCode)
	}
	st := sb.State()
	if len(st.Sequences) != 2 || st.Sequences[0].EndReason != "REPLIED" || st.Sequences[1].EndReason != "FINISHED" {
		t.Errorf("state %+v", st.Sequences)
	}
	raw(t, srv, "POST", "/automation/v4/sequences/enrollments?userId=102", sandboxtest.Token, enrollBody("78", "9002", "ben@example.com"))
	if _, body := raw(t, srv, "GET", "/_sandbox/enrollments?contactId=77", "", ""); len(body["sequences"].([]any)) != 2 {
		t.Errorf("filtered by contact: %v", body)
	}
}

func TestSandboxSendCap(t *testing.T) {
	// Sequence 9001 sends 3 emails within 4 hours; ana's inbox cap is 5.
	sb, srv := sandboxtest.Start(t, nil)
	const path = "/automation/v4/sequences/enrollments?userId=101"
	enroll := func(contact string) (int, map[string]any) {
		resp, body := raw(t, srv, "POST", path, sandboxtest.Token, enrollBody(contact, "9001", "ana@example.com"))
		return resp.StatusCode, body
	}
	if st, b := enroll("1"); st != 200 {
		t.Fatalf("first: %d %v", st, b)
	}
	st, body := enroll("2")
	if st != 400 || body["subCategory"] != "SEND_LIMIT_EXCEEDED" || body["category"] != "VALIDATION_ERROR" {
		t.Fatalf("over the cap: %d %v", st, body)
	}
	// A reply stops contact 1's two remaining emails: 1 + 3 fits under 5.
	if _, err := sb.Unenroll("1", "MEETING_BOOKED"); err != nil {
		t.Fatal(err)
	}
	if st, b := enroll("2"); st != 200 {
		t.Fatalf("after the meeting: %d %v", st, b)
	}
	if st, _ := enroll("3"); st != 400 {
		t.Fatalf("4 + 3 > 5 must be refused, got %d", st)
	}
	// A day later the window has cleared.
	sb.Advance(25 * time.Hour)
	if st, b := enroll("3"); st != 200 {
		t.Fatalf("next day: %d %v", st, b)
	}
}

func TestSandboxRateLimit(t *testing.T) {
	sb, srv := sandboxtest.Start(t, func(c *sandbox.Config) {
		c.RateLimit = sandbox.RateLimitConfig{Max: 3, Interval: 400 * time.Millisecond, Daily: 5}
	})
	for i := range 3 {
		resp, _ := raw(t, srv, "GET", "/automation/v4/sequences?userId=101", sandboxtest.Token, "")
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
		h := resp.Header
		if h.Get("X-HubSpot-RateLimit-Max") != "3" || h.Get("X-HubSpot-RateLimit-Remaining") != strconv.Itoa(2-i) ||
			h.Get("X-HubSpot-RateLimit-Interval-Milliseconds") != "400" || h.Get("X-HubSpot-RateLimit-Daily") != "5" ||
			h.Get("X-HubSpot-RateLimit-Daily-Remaining") != strconv.Itoa(4-i) {
			t.Errorf("request %d headers %v", i, h)
		}
	}
	resp, body := raw(t, srv, "GET", "/automation/v4/sequences?userId=101", sandboxtest.Token, "")
	if resp.StatusCode != 429 || body["policyName"] != "TEN_SECONDLY_ROLLING" || body["errorType"] != "RATE_LIMIT" ||
		resp.Header.Get("Retry-After") != "1" || resp.Header.Get("X-HubSpot-RateLimit-Remaining") != "0" {
		t.Fatalf("4th: %d %v %v", resp.StatusCode, body, resp.Header)
	}
	time.Sleep(450 * time.Millisecond) // the rolling window clears
	for i := range 2 {
		if resp, _ := raw(t, srv, "GET", "/automation/v4/sequences?userId=101", sandboxtest.Token, ""); resp.StatusCode != 200 {
			t.Fatalf("after the window %d: %d", i, resp.StatusCode)
		}
	}
	resp, body = raw(t, srv, "GET", "/automation/v4/sequences?userId=101", sandboxtest.Token, "")
	if resp.StatusCode != 429 || body["policyName"] != "DAILY" || resp.Header.Get("X-HubSpot-RateLimit-Daily-Remaining") != "0" {
		t.Fatalf("daily: %d %v", resp.StatusCode, body)
	}
	if s := sb.Stats(); s.RateLimited != 2 || s.Requests != 5 {
		t.Errorf("stats %+v", s)
	}
}

func TestSandboxWorkflows(t *testing.T) {
	sb, srv := sandboxtest.Start(t, nil)
	const enroll = "/automation/v2/workflows/5001/enrollments/contacts/c77@example.net"
	for i := range 2 { // the repeat is accepted without a second enrollment
		if resp, _ := raw(t, srv, "POST", enroll, sandboxtest.Token, ""); resp.StatusCode != 204 {
			t.Fatalf("enroll %d: %d", i, resp.StatusCode)
		}
	}
	if resp, _ := raw(t, srv, "POST", "/automation/v2/workflows/5002/enrollments/contacts/dana@northwind.example", sandboxtest.Token, ""); resp.StatusCode != 204 {
		t.Fatalf("listed contact: %d", resp.StatusCode)
	}
	if n := len(sb.State().Workflows); n != 2 {
		t.Errorf("%d workflow events, want 2", n)
	}
	var list []hubspot.WorkflowEnrollment
	getList := func(vid string) int {
		req, _ := http.NewRequest("GET", srv.URL+"/automation/v2/workflows/enrollments/contacts/"+vid, nil)
		req.Header.Set("Authorization", "Bearer "+sandboxtest.Token)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		list = nil
		_ = json.NewDecoder(resp.Body).Decode(&list)
		return resp.StatusCode
	}
	if st := getList("77"); st != 200 || len(list) != 1 || list[0].ID != 5001 || list[0].Name != "Nurture - product education" || !list[0].Enabled {
		t.Fatalf("list: %d %+v", st, list)
	}
	if resp, _ := raw(t, srv, "DELETE", enroll, sandboxtest.Token, ""); resp.StatusCode != 204 {
		t.Fatalf("unenroll: %d", resp.StatusCode)
	}
	if st := getList("77"); st != 200 || len(list) != 0 {
		t.Fatalf("after unenroll: %d %+v", st, list)
	}
	tests := []struct{ method, path, msg string }{
		{"POST", "/automation/v2/workflows/9999/enrollments/contacts/c77@example.net", "Workflow 9999 not found"},
		{"POST", "/automation/v2/workflows/abc/enrollments/contacts/c77@example.net", "Workflow abc not found"},
		{"POST", "/automation/v2/workflows/5001/enrollments/contacts/stranger@example.org", "Contact with email stranger@example.org not found"},
		{"DELETE", "/automation/v2/workflows/9999/enrollments/contacts/c77@example.net", "Workflow 9999 not found"},
		{"DELETE", "/automation/v2/workflows/5001/enrollments/contacts/stranger@example.org", "Contact with email stranger@example.org not found"},
	}
	for _, tt := range tests {
		resp, body := raw(t, srv, tt.method, tt.path, sandboxtest.Token, "")
		if resp.StatusCode != 404 || body["message"] != tt.msg || body["category"] != "OBJECT_NOT_FOUND" {
			t.Errorf("%s %s: %d %v", tt.method, tt.path, resp.StatusCode, body)
		}
	}
}

func TestSandboxFaults(t *testing.T) {
	statuses := func(seed uint64) []int {
		_, srv := sandboxtest.Start(t, func(c *sandbox.Config) { c.Faults = sandbox.Faults{ErrorRate: 0.3, Seed: seed} })
		var out []int
		for range 40 {
			resp, _ := raw(t, srv, "GET", "/automation/v4/sequences/9001?userId=101", sandboxtest.Token, "")
			out = append(out, resp.StatusCode)
		}
		return out
	}
	a, b, c := statuses(7), statuses(7), statuses(8)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("same seed, different faults:\n%v\n%v", a, b)
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Errorf("different seeds, same faults: %v", a)
	}
	fails := 0
	for _, s := range a {
		if s >= 500 {
			fails++
		} else if s != 200 {
			t.Errorf("status %d", s)
		}
	}
	if fails < 4 || fails > 20 {
		t.Errorf("%d of 40 failed at rate 0.3", fails)
	}

	sb, srv := sandboxtest.Start(t, nil)
	resp, body := raw(t, srv, "POST", "/_sandbox/faults", "", `{"fail_next":2,"latency":"30ms"}`)
	if resp.StatusCode != 200 || body["fail_next"] != 2.0 || body["latency"] != "30ms" {
		t.Fatalf("set faults: %d %v", resp.StatusCode, body)
	}
	start := time.Now()
	for i, want := range []int{503, 503, 200} {
		if resp, _ := raw(t, srv, "GET", "/automation/v4/sequences/9001?userId=101", sandboxtest.Token, ""); resp.StatusCode != want {
			t.Errorf("request %d: %d, want %d", i, resp.StatusCode, want)
		}
	}
	if d := time.Since(start); d < 90*time.Millisecond {
		t.Errorf("3 requests with 30ms latency took %v", d)
	}
	if resp, _ := raw(t, srv, "POST", "/_sandbox/faults", "", `{"error_rate":1.5}`); resp.StatusCode != 400 {
		t.Errorf("bad rate accepted: %d", resp.StatusCode)
	}
	if resp, _ := raw(t, srv, "POST", "/_sandbox/faults", "", `{"nonsense":1}`); resp.StatusCode != 400 {
		t.Errorf("unknown field accepted: %d", resp.StatusCode)
	}
	if resp, _ := raw(t, srv, "POST", "/_sandbox/reset", "", ""); resp.StatusCode != 204 {
		t.Fatalf("reset: %d", resp.StatusCode)
	}
	if f := sb.Faults(); f.Latency != 0 || f.FailNext != 0 {
		t.Errorf("reset kept faults %+v", f)
	}
}

func TestSandboxDropAfterEnroll(t *testing.T) {
	sb, srv := sandboxtest.Start(t, func(c *sandbox.Config) { c.Faults.DropAfterEnrollNext = 1 })
	req, _ := http.NewRequest("POST", srv.URL+"/automation/v4/sequences/enrollments?userId=102", stringsReader(enrollBody("77", "9002", "ben@example.com")))
	req.Header.Set("Authorization", "Bearer "+sandboxtest.Token)
	if resp, err := srv.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("got an answer %d, want a broken connection", resp.StatusCode)
	}
	st := sb.State()
	if len(st.Sequences) != 1 || st.Sequences[0].Answered {
		t.Fatalf("stored %+v, want one unanswered enrollment", st.Sequences)
	}
	if s := sb.Stats(); s.Dropped != 1 {
		t.Errorf("stats %+v", s)
	}
	resp, body := raw(t, srv, "GET", "/_sandbox/enrollments", "", "")
	if resp.StatusCode != 200 || len(body["sequences"].([]any)) != 1 {
		t.Errorf("admin enrollments: %d %v", resp.StatusCode, body)
	}
}
