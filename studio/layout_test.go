package studio

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestPagesShareTheLayout: every page comes from the one layout, with its
// own title, heading and renderer, the skip link first, and the current
// page marked in the navigation; the not found page escapes the path.
func TestPagesShareTheLayout(t *testing.T) {
	f := newFixture(t, Config{})
	get := func(path string) (int, string) {
		resp, err := http.Get(f.ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct{ path, title, heading, name, current string }{
		{"/", "Overview - Score Studio", "Overview of the live rules", "overview", "/"},
		{"/preview", "Preview a change - Score Studio", "Preview a rule change", "preview", "/preview"},
		{"/calibration", "Calibration - Score Studio", "Calibration", "calibration", "/calibration"},
		{"/bridge", "Bridge - Score Studio", "Bridge", "bridge", "/bridge"},
		{"/live", "Live - Score Studio", "Live scorer", "live", "/live"},
		{"/contacts/c-000001", "Contact - Score Studio", "Contact", "contact", ""},
		{"/companies/acme", "Company - Score Studio", "Company", "company", ""},
	} {
		code, body := get(tc.path)
		if code != http.StatusOK {
			t.Errorf("%s: %d", tc.path, code)
			continue
		}
		for _, want := range []string{
			"<title>" + tc.title + "</title>",
			`<body data-page="` + tc.name + `">`,
			`<h1 id="title">` + tc.heading + `</h1>`,
			`<script src="/assets/app.js"></script>`,
			`<a href="/live"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: no %s in\n%s", tc.path, want, body)
			}
		}
		if i, j := strings.Index(body, `class="skip"`), strings.Index(body, `<nav`); i < 0 || i > j {
			t.Errorf("%s: the skip link is not before the navigation", tc.path)
		}
		if n := strings.Count(body, `aria-current="page"`); tc.current == "" && n != 0 || tc.current != "" && n != 1 {
			t.Errorf("%s: %d navigation items marked current", tc.path, n)
		}
		if tc.current != "" && !strings.Contains(body, `<a href="`+tc.current+`" aria-current="page">`) {
			t.Errorf("%s: its own navigation item is not marked current", tc.path)
		}
	}
	code, body := get("/nowhere/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
	if code != http.StatusNotFound || !strings.Contains(body, "<title>Not found - Score Studio</title>") || !strings.Contains(body, "There is no page at /nowhere/&lt;script&gt;") {
		t.Errorf("not found: %d\n%s", code, body)
	}
	if strings.Contains(body, "<script>alert") {
		t.Errorf("the not found page runs a script:\n%s", body)
	}
}
