// Package bearer guards a service's data endpoints (contact scores,
// decisions: personal data) with a bearer token. A service that listens
// beyond loopback must have a token; probes and scrapers keep their open
// paths. It never logs, prints or returns a token.
package bearer

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
)

// Open lists the paths every service leaves open: Prometheus scrapes and
// the orchestrator's probes.
var Open = []string{"/metrics", "/healthz", "/readyz"}

// Load returns the token: value (a flag) if set, else the environment
// variable env, else the contents of file (white space trimmed). Empty
// everywhere is no token, not an error. Errors name where it looked, never
// what it found.
func Load(value, env, file string) (string, error) {
	if v := strings.TrimSpace(value); v != "" {
		return v, nil
	}
	if env != "" {
		if v := strings.TrimSpace(os.Getenv(env)); v != "" {
			return v, nil
		}
	}
	if file == "" {
		return "", nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Errorf("api token file %s: %w", file, err)
	}
	tok := strings.TrimSpace(string(b))
	switch {
	case tok == "":
		return "", fmt.Errorf("api token file %s is empty", file)
	case strings.ContainsAny(tok, " \t\r\n"):
		return "", fmt.Errorf("api token file %s holds more than one line or word", file)
	}
	return tok, nil
}

// Loopback reports whether every address a listener on addr (host:port)
// accepts connections on is a loopback one. An empty host, 0.0.0.0 and ::
// mean every interface; a name counts as loopback only when it resolves to
// loopback addresses alone.
func Loopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "" {
		return false, nil
	}
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil {
		return ip.IsLoopback(), nil
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return false, fmt.Errorf("listen address %q: %w", addr, err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return false, nil
		}
	}
	return len(ips) > 0, nil
}

// Require refuses a data endpoint reachable beyond loopback without a
// token. flag and env name where the operator sets one, for the message.
func Require(addr, token, flag, env string) error {
	if token != "" {
		return nil
	}
	lo, err := Loopback(addr)
	if err != nil {
		return err
	}
	if !lo {
		return fmt.Errorf("listen address %q is not loopback and no API token is set: "+
			"contact data would be open to anyone who can reach it; set %s-file (or $%s), or listen on 127.0.0.1", addr, flag, env)
	}
	return nil
}

// Guard serves open paths as they are and every other path only to a
// request carrying "Authorization: Bearer <token>" (the scheme in any case,
// RFC 7235). An empty token guards nothing: Require decided it may be so.
func Guard(h http.Handler, token string, open ...string) http.Handler {
	if token == "" {
		return h
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range open {
			if r.URL.Path == p {
				h.ServeHTTP(w, r)
				return
			}
		}
		got, ok := credentials(r.Header.Get("Authorization"))
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="scorebridge"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			msg := "missing bearer token: send Authorization: Bearer <api token>"
			if ok {
				msg = "wrong bearer token"
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// credentials reads "Bearer <token>", the scheme case-insensitively.
func credentials(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
