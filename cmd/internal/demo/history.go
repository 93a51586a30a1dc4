package demo

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// CountEvents counts the lines of the history and collects its contact
// ids, sorted.
func CountEvents(path string) (int, []string, error) {
	if path == "" {
		return 0, nil, errors.New("--events is required")
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	seen := map[string]bool{}
	var ids []string
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		n++
		var e struct {
			ContactID string `json:"contact_id"`
		}
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.ContactID != "" && !seen[e.ContactID] {
			seen[e.ContactID] = true
			ids = append(ids, e.ContactID)
		}
	}
	sort.Strings(ids)
	return n, ids, sc.Err()
}

// SandboxContacts writes the sandbox configuration at config with the
// history's contacts and their emails, as a portal holding those contacts
// would have them: workflows enroll by email.
func SandboxContacts(config, events string, w io.Writer) error {
	base, err := os.ReadFile(config)
	if err != nil {
		return err
	}
	for _, l := range strings.Split(string(base), "\n") {
		if strings.HasPrefix(l, "contacts:") {
			return fmt.Errorf("%s already has contacts", config)
		}
	}
	f, err := os.Open(events)
	if err != nil {
		return err
	}
	defer f.Close()
	emails := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		var e struct {
			ContactID string         `json:"contact_id"`
			Contact   map[string]any `json:"contact"`
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.ContactID == "" || emails[e.ContactID] != "" {
			continue
		}
		if email, ok := e.Contact["email"].(string); ok && email != "" {
			emails[e.ContactID] = email
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	ids := make([]string, 0, len(emails))
	for id := range emails {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	bw := bufio.NewWriter(w)
	bw.Write(base)
	fmt.Fprintf(bw, "\n# Added by scorer demo-report sandbox from %s.\ncontacts:\n", events)
	for _, id := range ids {
		fmt.Fprintf(bw, "  - {id: %q, email: %q}\n", id, emails[id])
	}
	return bw.Flush()
}
