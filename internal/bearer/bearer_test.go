package bearer

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{":8080", false},
		{"0.0.0.0:8080", false},
		{"[::]:8080", false},
		{"192.0.2.7:8080", false},
		{"127.0.0.1:8080", true},
		{"127.0.0.2:0", true},
		{"[::1]:8080", true},
		{"localhost:8080", true},
		{"LOCALHOST:1", true},
	} {
		got, err := Loopback(tc.addr)
		if err != nil || got != tc.want {
			t.Errorf("Loopback(%q) = %v, %v; want %v", tc.addr, got, err, tc.want)
		}
	}
	if _, err := Loopback("8080"); err == nil {
		t.Error("Loopback(8080): want an error for an address without a port")
	}
}

func TestRequire(t *testing.T) {
	err := Require(":8081", "", "--api-token", "BRIDGE_API_TOKEN")
	if err == nil || !strings.Contains(err.Error(), `":8081" is not loopback`) || !strings.Contains(err.Error(), "BRIDGE_API_TOKEN") {
		t.Errorf("Require(:8081, no token) = %v", err)
	}
	if err := Require(":8081", "s3cret", "--api-token", "BRIDGE_API_TOKEN"); err != nil {
		t.Errorf("Require with a token = %v", err)
	}
	if err := Require("127.0.0.1:8081", "", "--api-token", "BRIDGE_API_TOKEN"); err != nil {
		t.Errorf("Require on loopback = %v", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_API_TOKEN", "from-env")
	for _, tc := range []struct{ value, env, file, want string }{
		{"from-flag", "TEST_API_TOKEN", file, "from-flag"},
		{"", "TEST_API_TOKEN", file, "from-env"},
		{"", "UNSET_API_TOKEN_X", file, "from-file"},
		{"", "UNSET_API_TOKEN_X", "", ""},
	} {
		got, err := Load(tc.value, tc.env, tc.file)
		if err != nil || got != tc.want {
			t.Errorf("Load(%q, %q, %q) = %q, %v; want %q", tc.value, tc.env, tc.file, got, err, tc.want)
		}
	}
	two := filepath.Join(dir, "two")
	os.WriteFile(two, []byte("a b\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	for _, f := range []string{two, empty, filepath.Join(dir, "missing")} {
		if _, err := Load("", "", f); err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("Load(file %s) = %v, want an error naming the file", f, err)
		}
	}
}

func TestGuard(t *testing.T) {
	const token = "s3cret-token"
	h := Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "data") }), token, Open...)
	for _, tc := range []struct {
		path, auth string
		want       int
	}{
		{"/metrics", "", 200},
		{"/healthz", "", 200},
		{"/readyz", "", 200},
		{"/decisions", "", 401},
		{"/contacts/a1/score", "", 401},
		{"/contacts/a1/score", "Bearer wrong", 401},
		{"/contacts/a1/score", "Basic " + token, 401},
		{"/contacts/a1/score", token, 401},
		{"/contacts/a1/score", "Bearer " + token, 200},
		{"/decisions", "bearer " + token, 200},
		{"/decisions", "BEARER  " + token, 200},
		{"/metrics/../decisions", "", 401},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "http://x"+tc.path, nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("GET %s (Authorization %q) = %d, want %d", tc.path, tc.auth, rec.Code, tc.want)
		}
		if rec.Code == 401 {
			if rec.Header().Get("WWW-Authenticate") == "" || strings.Contains(rec.Body.String(), token) {
				t.Errorf("GET %s: 401 without WWW-Authenticate or echoing the token: %s", tc.path, rec.Body)
			}
		}
	}
	// No token: nothing guarded (Require allowed it: loopback only).
	open := Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), "", Open...)
	rec := httptest.NewRecorder()
	open.ServeHTTP(rec, httptest.NewRequest("GET", "http://x/decisions", nil))
	if rec.Code != 200 {
		t.Errorf("unguarded /decisions = %d", rec.Code)
	}
}
