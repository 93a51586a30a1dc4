package events

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
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

// TestReaderEach: Each gives the good events in order, reports each bad
// line and goes on, and stops at fn's error or a read error, returning it.
func TestReaderEach(t *testing.T) {
	good := `{"id":"e%d","type":"x","contact_id":"c1","occurred_at":"2026-03-01T10:00:00Z"}`
	in := strings.Join([]string{
		strings.Replace(good, "%d", "1", 1),
		"not json",
		strings.Replace(good, "%d", "2", 1),
		strings.Replace(good, "%d", "3", 1),
	}, "\n")
	var ids, bad []string
	err := NewReader(strings.NewReader(in)).Each(func(ev Event) error {
		ids = append(ids, ev.ID)
		return nil
	}, func(le *LineError) { bad = append(bad, le.Error()[:7]) })
	if err != nil || strings.Join(ids, ",") != "e1,e2,e3" || strings.Join(bad, ",") != "line 2:" {
		t.Fatalf("Each: err %v, ids %v, bad %v", err, ids, bad)
	}
	if err := NewReader(strings.NewReader(in)).Each(func(Event) error { return nil }, nil); err != nil {
		t.Fatalf("Each with no bad-line callback: %v", err)
	}

	stop := errors.New("stop")
	ids = nil
	err = NewReader(strings.NewReader(in)).Each(func(ev Event) error {
		ids = append(ids, ev.ID)
		if ev.ID == "e2" {
			return stop
		}
		return nil
	}, nil)
	if err != stop || strings.Join(ids, ",") != "e1,e2" {
		t.Fatalf("fn's error: err %v, ids %v; want stop after e2", err, ids)
	}

	broken := io.MultiReader(strings.NewReader(strings.Replace(good, "%d", "1", 1)+"\n"), iotest.ErrReader(errors.New("disk on fire")))
	ids = nil
	err = NewReader(broken).Each(func(ev Event) error { ids = append(ids, ev.ID); return nil }, nil)
	if err == nil || err.Error() != "disk on fire" || strings.Join(ids, ",") != "e1" {
		t.Fatalf("read error: err %v, ids %v", err, ids)
	}
}
