package sandbox_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/hubspot/sandbox/sandboxtest"
)

// openAPI is the part of HubSpot's published OpenAPI document the
// conformance test reads (testdata/sequences-v4.openapi.json, HubSpot's
// Sequences v4 spec as published).
type openAPI struct {
	Paths      map[string]map[string]openAPIOp `json:"paths"`
	Components struct {
		Schemas   map[string]*schema `json:"schemas"`
		Responses map[string]struct {
			Content map[string]struct {
				Schema *schema `json:"schema"`
			} `json:"content"`
		} `json:"responses"`
	} `json:"components"`
}

type openAPIOp struct {
	Responses map[string]struct {
		Ref     string `json:"$ref"`
		Content map[string]struct {
			Schema *schema `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

type schema struct {
	Ref                  string             `json:"$ref"`
	Type                 string             `json:"type"`
	Format               string             `json:"format"`
	Enum                 []string           `json:"enum"`
	Required             []string           `json:"required"`
	Properties           map[string]*schema `json:"properties"`
	Items                *schema            `json:"items"`
	AdditionalProperties json.RawMessage    `json:"additionalProperties"`
}

func loadSpec(t *testing.T) *openAPI {
	t.Helper()
	b, err := os.ReadFile("testdata/sequences-v4.openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var spec openAPI
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	return &spec
}

func (spec *openAPI) resolve(s *schema) *schema {
	for s != nil && s.Ref != "" {
		s = spec.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
	}
	return s
}

// responseSchema is the schema of an operation's answer with this status
// (the "default" one, HubSpot's Error, for anything but 200).
func (spec *openAPI) responseSchema(t *testing.T, path, method string, status int) *schema {
	op, ok := spec.Paths[path][strings.ToLower(method)]
	if !ok {
		t.Fatalf("the spec has no %s %s", method, path)
	}
	key := "default"
	if status == 200 {
		key = "200"
	}
	r := op.Responses[key]
	if r.Ref != "" {
		named := spec.Components.Responses[strings.TrimPrefix(r.Ref, "#/components/responses/")]
		return spec.resolve(named.Content["application/json"].Schema)
	}
	return spec.resolve(r.Content["application/json"].Schema)
}

// validate lists every way v departs from s: missing required fields,
// wrong JSON types, values outside an enum, date-times that do not parse,
// and fields the schema does not define.
func (spec *openAPI) validate(where string, v any, s *schema) []string {
	s = spec.resolve(s)
	if s == nil {
		return nil
	}
	var bad []string
	switch s.Type {
	case "object", "":
		m, ok := v.(map[string]any)
		if !ok {
			if s.Type == "" {
				return nil
			}
			return []string{fmt.Sprintf("%s: want an object, got %T", where, v)}
		}
		for _, r := range s.Required {
			if _, ok := m[r]; !ok {
				bad = append(bad, fmt.Sprintf("%s.%s: required, missing", where, r))
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ps, ok := s.Properties[k]
			switch {
			case ok:
				bad = append(bad, spec.validate(where+"."+k, m[k], ps)...)
			case len(s.AdditionalProperties) == 0 && s.Properties != nil:
				bad = append(bad, fmt.Sprintf("%s.%s: not in the schema", where, k))
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an array, got %T", where, v)}
		}
		for i, x := range a {
			bad = append(bad, spec.validate(fmt.Sprintf("%s[%d]", where, i), x, s.Items)...)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return []string{fmt.Sprintf("%s: want a string, got %T (%v)", where, v, v)}
		}
		if s.Format == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				bad = append(bad, fmt.Sprintf("%s: %q is not a date-time", where, str))
			}
		}
		if len(s.Enum) > 0 && !slices.Contains(s.Enum, str) {
			bad = append(bad, fmt.Sprintf("%s: %q not in %v", where, str, s.Enum))
		}
	case "integer", "number":
		f, ok := v.(float64)
		if !ok || (s.Type == "integer" && f != float64(int64(f))) {
			bad = append(bad, fmt.Sprintf("%s: want %s, got %T (%v)", where, s.Type, v, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad = append(bad, fmt.Sprintf("%s: want a boolean, got %T", where, v))
		}
	}
	return bad
}

// The sandbox's answers, in both API versions, conform to HubSpot's
// published Sequences schemas: every documented call, successes and
// errors. The dated version's paths map one to one onto v4's (see
// TestAPIVersionDifferences), so both are checked against the v4 document.
func TestSandboxConformsToPublishedSchemas(t *testing.T) {
	spec := loadSpec(t)
	calls := []struct {
		name, method, specPath, path, body string
		status                             int
	}{
		{"list", "GET", "/automation/v4/sequences", "?userId=101&limit=1", "", 200},
		{"list without userId", "GET", "/automation/v4/sequences", "", "", 400},
		{"get", "GET", "/automation/v4/sequences/{sequenceId}", "/9001?userId=101", "", 200},
		{"get unknown", "GET", "/automation/v4/sequences/{sequenceId}", "/1?userId=101", "", 404},
		{"status none", "GET", "/automation/v4/sequences/enrollments/contact/{contactId}", "/enrollments/contact/55", "", 404},
		{"enroll", "POST", "/automation/v4/sequences/enrollments", "/enrollments?userId=101", `{"contactId":"55","sequenceId":"9001","senderEmail":"ana@example.com"}`, 200},
		{"status", "GET", "/automation/v4/sequences/enrollments/contact/{contactId}", "/enrollments/contact/55", "", 200},
		{"enroll again", "POST", "/automation/v4/sequences/enrollments", "/enrollments?userId=101", `{"contactId":"55","sequenceId":"9001","senderEmail":"ana@example.com"}`, 400},
		{"enroll number ids", "POST", "/automation/v4/sequences/enrollments", "/enrollments?userId=101", `{"contactId":56,"sequenceId":9001,"senderEmail":"ana@example.com"}`, 400},
		{"enroll missing fields", "POST", "/automation/v4/sequences/enrollments", "/enrollments?userId=101", `{}`, 400},
	}
	for _, version := range hubspot.APIVersions {
		t.Run(version, func(t *testing.T) {
			_, srv := sandboxtest.Start(t, nil)
			for _, c := range calls {
				req, _ := http.NewRequest(c.method, srv.URL+hubspot.SequencesPrefix(version)+c.path, strings.NewReader(c.body))
				req.Header.Set("Authorization", "Bearer "+sandboxtest.Token)
				if c.body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != c.status {
					t.Errorf("%s: status %d, want %d: %s", c.name, resp.StatusCode, c.status, raw)
					continue
				}
				var v any
				if err := json.Unmarshal(raw, &v); err != nil {
					t.Errorf("%s: not JSON: %s", c.name, raw)
					continue
				}
				for _, p := range spec.validate(c.name, v, spec.responseSchema(t, c.specPath, c.method, c.status)) {
					t.Errorf("%s %s: %s", version, c.method, p)
				}
			}
		})
	}
}

// The validator itself finds what it must: a test that could not fail
// would prove nothing about the sandbox.
func TestSchemaValidatorFindsProblems(t *testing.T) {
	spec := loadSpec(t)
	s := spec.responseSchema(t, "/automation/v4/sequences/enrollments", "POST", 200)
	got := spec.validate("enroll", map[string]any{"id": 7.0, "enrolledAt": "yesterday", "extra": true}, s)
	want := []string{
		"enroll.toEmail: required, missing",
		"enroll.updatedAt: required, missing",
		`enroll.enrolledAt: "yesterday" is not a date-time`,
		"enroll.extra: not in the schema",
		"enroll.id: want a string, got float64 (7)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
