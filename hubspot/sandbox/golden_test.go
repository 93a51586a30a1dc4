package sandbox_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/scorebridge/scorebridge/hubspot/sandbox"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestSandboxWireGolden pins the JSON the sandbox answers for the sample
// configuration, so a change of wire shape shows up in review.
func TestSandboxWireGolden(t *testing.T) {
	cfg, err := sandbox.LoadConfig("../../testdata/sandbox.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.New(cfg, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	defer srv.Close()
	varying := regexp.MustCompile(`("(correlationId|enrolledAt|updatedAt)": )"[^"]*"`)
	tests := []struct{ name, method, path, body string }{
		{"list-sequences", "GET", "/automation/v4/sequences?userId=101&limit=2", ""},
		{"get-sequence-9001", "GET", "/automation/v4/sequences/9001?userId=101", ""},
		{"get-sequence-unknown", "GET", "/automation/v4/sequences/1?userId=101", ""},
		{"enroll", "POST", "/automation/v4/sequences/enrollments?userId=101", `{"contactId":"1001","sequenceId":"9001","senderEmail":"ana@example.com"}`},
		{"enroll-again", "POST", "/automation/v4/sequences/enrollments?userId=102", `{"contactId":"1001","sequenceId":"9002","senderEmail":"ben@example.com"}`},
		{"enroll-missing-fields", "POST", "/automation/v4/sequences/enrollments?userId=101", `{"contactId":"1001"}`},
		{"contact-status", "GET", "/automation/v4/sequences/enrollments/contact/1001", ""},
		{"contact-status-none", "GET", "/automation/v4/sequences/enrollments/contact/1002", ""},
		{"workflow-enrollments", "GET", "/automation/v2/workflows/enrollments/contacts/1002", ""},
		{"unknown-route", "GET", "/crm/v3/objects/contacts", ""},
		// The dated version answers the same documents as v4.
		{"list-sequences-2026-03", "GET", "/automation/sequences/2026-03?userId=101&limit=2", ""},
		{"get-sequence-9001-2026-03", "GET", "/automation/sequences/2026-03/9001?userId=101", ""},
		{"contact-status-2026-03", "GET", "/automation/sequences/2026-03/enrollments/contact/1001", ""},
		// Ids as JSON numbers: HubSpot's error document, naming the field.
		{"enroll-number-ids", "POST", "/automation/sequences/2026-03/enrollments?userId=101", `{"contactId":1001,"sequenceId":9001,"senderEmail":"ana@example.com"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, bytes.NewBufferString(tt.body))
			req.Header.Set("Authorization", "Bearer "+cfg.Token)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatalf("%d %s: %v", resp.StatusCode, raw, err)
			}
			pretty, _ := json.MarshalIndent(map[string]any{"status": resp.StatusCode, "body": v}, "", "  ")
			got := varying.ReplaceAll(pretty, []byte(`$1"*"`))
			got = bytes.ReplaceAll(got, []byte(srv.URL), []byte("http://SANDBOX"))
			golden := filepath.Join("testdata", tt.name+".golden.json")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run Golden -update)", err)
			}
			if !bytes.Equal(bytes.TrimSpace(want), bytes.TrimSpace(got)) {
				t.Errorf("%s differs from %s:\n%s", tt.name, golden, got)
			}
		})
	}
}
