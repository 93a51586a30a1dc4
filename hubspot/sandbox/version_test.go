package sandbox_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/hubspot/sandbox"
	"github.com/scorebridge/scorebridge/hubspot/sandbox/sandboxtest"
)

// What HubSpot's documentation shows for the Sequences API in its two
// versions (developers.hubspot.com/docs/api-reference/2026-03/automation/
// sequences/* against .../legacy/automation/sequences/*), as the sandbox and
// the client implement it:
//   - the paths: /automation/sequences/2026-03[...] for /automation/v4/sequences[...];
//     the list is GET /automation/sequences/2026-03 (no trailing segment);
//   - the same query parameters (userId required for list, get and enroll),
//     request body {contactId, sequenceId, senderEmail[, senderAliasAddress]},
//     all strings;
//   - the same answers: enrollment {id, toEmail, enrolledAt, updatedAt},
//     status {id, sequenceId, sequenceName, enrolledBy, enrolledByEmail,
//     toEmail, enrolledAt, updatedAt}, the same paged list;
//   - the contact status path under 2026-03 is not spelled out in the pages
//     read; the sandbox serves it as v4's (/enrollments/contact/{contactId})
//     under the dated prefix.
//   - 2026-09-beta adds create, update and delete of sequences (not served).
var documentedCalls = []struct {
	call, method, v4, dated string
}{
	{"list sequences", "GET", "/automation/v4/sequences", "/automation/sequences/2026-03"},
	{"get a sequence", "GET", "/automation/v4/sequences/9001", "/automation/sequences/2026-03/9001"},
	{"enroll", "POST", "/automation/v4/sequences/enrollments", "/automation/sequences/2026-03/enrollments"},
	{"contact status", "GET", "/automation/v4/sequences/enrollments/contact/77", "/automation/sequences/2026-03/enrollments/contact/77"},
}

// The two versions answer the same documents at their own paths.
func TestAPIVersionDifferences(t *testing.T) {
	for _, d := range documentedCalls {
		if got := hubspot.SequencesPrefix(hubspot.APIVersionV4) + strings.TrimPrefix(d.v4, "/automation/v4/sequences"); got != d.v4 {
			t.Errorf("%s: v4 path %s, documented %s", d.call, got, d.v4)
		}
		if got := hubspot.SequencesPrefix(hubspot.APIVersion202603) + strings.TrimPrefix(d.v4, "/automation/v4/sequences"); got != d.dated {
			t.Errorf("%s: 2026-03 path %s, documented %s", d.call, got, d.dated)
		}
	}
	answers := map[string][]string{}
	for _, v := range hubspot.APIVersions {
		_, srv := sandboxtest.Start(t, nil)
		for _, d := range documentedCalls {
			path, body := d.v4, ""
			if v == hubspot.APIVersion202603 {
				path = d.dated
			}
			switch d.method {
			case "POST":
				path += "?userId=102"
				body = `{"contactId":"77","sequenceId":"9002","senderEmail":"ben@example.com"}`
			case "GET":
				if !strings.Contains(path, "/contact/") {
					path += "?userId=101"
				}
			}
			resp, m := raw(t, srv, d.method, path, sandboxtest.Token, body)
			for _, k := range []string{"correlationId", "enrolledAt", "updatedAt", "id"} {
				if _, ok := m[k]; ok && d.call != "get a sequence" {
					m[k] = "*"
				}
			}
			if p, ok := m["paging"].(map[string]any); ok {
				p["next"].(map[string]any)["link"] = "*"
			}
			b, _ := json.Marshal(m)
			answers[d.call] = append(answers[d.call], strconv.Itoa(resp.StatusCode)+" "+string(b))
		}
	}
	for call, a := range answers {
		if a[0] != a[1] || !strings.HasPrefix(a[0], "200 ") {
			t.Errorf("%s: the versions answer differently or fail:\n2026-03 %s\nv4      %s", call, a[0], a[1])
		}
	}
}

// What HubSpot's own client relies on: a paging link it can request as a
// URL, the per-second rate-limit headers, the Bearer scheme in any case,
// millisecond timestamps, and an actionable error for ids sent as numbers.
func TestSandboxWireDetails(t *testing.T) {
	start := time.Date(2026, 3, 2, 10, 0, 0, 123_456_789, time.UTC)
	sb, err := sandbox.New(sandboxtest.Config(t, nil), sandbox.Options{Now: func() time.Time { return start }})
	if err != nil {
		t.Fatal(err)
	}
	_, srv := sandboxtest.Start(t, nil)
	resp, m := raw(t, srv, "GET", "/automation/sequences/2026-03?userId=101&limit=1", sandboxtest.Token, "")
	link := m["paging"].(map[string]any)["next"].(map[string]any)["link"].(string)
	u, err := url.Parse(link)
	if err != nil || !u.IsAbs() || u.Query().Get("after") != "1" || u.Query().Get("userId") != "101" {
		t.Fatalf("paging.next.link %q is not an absolute URL of the next page", link)
	}
	req, _ := http.NewRequest("GET", link, nil)
	req.Header.Set("Authorization", "Bearer "+sandboxtest.Token)
	next, err := srv.Client().Do(req)
	if err != nil || next.StatusCode != 200 {
		t.Fatalf("following paging.next.link: %v %v", next, err)
	}
	next.Body.Close()
	for _, h := range []string{"X-HubSpot-RateLimit-Secondly", "X-HubSpot-RateLimit-Secondly-Remaining"} {
		if n, err := strconv.Atoi(resp.Header.Get(h)); err != nil || n < 0 {
			t.Errorf("%s = %q", h, resp.Header.Get(h))
		}
	}
	if s, r := resp.Header.Get("X-HubSpot-RateLimit-Secondly"), resp.Header.Get("X-HubSpot-RateLimit-Secondly-Remaining"); s == r {
		t.Errorf("Secondly %s, Secondly-Remaining %s: the request itself is not counted", s, r)
	}

	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		req, _ := http.NewRequest("GET", srv.URL+"/automation/sequences/2026-03/9001?userId=101", nil)
		req.Header.Set("Authorization", scheme+" "+sandboxtest.Token)
		resp, err := srv.Client().Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("Authorization %q: %v %v", scheme, resp.Status, err)
		}
		resp.Body.Close()
	}

	srv2 := httptest.NewServer(sb)
	defer srv2.Close()
	resp, m = raw(t, srv2, "POST", "/automation/sequences/2026-03/enrollments?userId=101", sandboxtest.Token,
		`{"contactId":"61","sequenceId":"9001","senderEmail":"ana@example.com"}`)
	if resp.StatusCode != 200 || m["enrolledAt"] != "2026-03-02T10:00:00.123Z" {
		t.Errorf("enrolledAt %v (status %d): want millisecond precision, 2026-03-02T10:00:00.123Z", m["enrolledAt"], resp.StatusCode)
	}

	resp, m = raw(t, srv, "POST", "/automation/v4/sequences/enrollments?userId=101", sandboxtest.Token,
		`{"contactId":62,"sequenceId":"9001","senderEmail":"ana@example.com"}`)
	msg, _ := m["message"].(string)
	if resp.StatusCode != 400 || m["category"] != "VALIDATION_ERROR" || !strings.Contains(msg, `contactId must be a string`) ||
		strings.Contains(msg, "Go value") || strings.Contains(msg, "EnrollRequest") {
		t.Errorf("contactId as a number: %d %v", resp.StatusCode, m)
	}
}
