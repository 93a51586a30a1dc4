package events

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReader(t *testing.T) {
	good := `{"id":"e%d","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z"}`
	in := strings.Join([]string{
		strings.Replace(good, "%d", "1", 1),
		"",
		"not json",
		`{"id":"big","pad":"` + strings.Repeat("x", MaxEventBytes+10) + `"}`,
		strings.Replace(good, "%d", "2", 1) + "\r",
		strings.Replace(good, "%d", "3", 1), // no final newline
	}, "\n")
	r := NewReader(strings.NewReader(in))
	var ids []string
	var bad []string
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		var le *LineError
		if errors.As(err, &le) {
			bad = append(bad, le.Error()[:7])
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	if strings.Join(ids, ",") != "e1,e2,e3" {
		t.Errorf("ids = %v", ids)
	}
	if strings.Join(bad, ",") != "line 3:,line 4:" {
		t.Errorf("bad = %v", bad)
	}
}
