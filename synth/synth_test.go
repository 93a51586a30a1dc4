package synth

import (
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
)

func collect(t *testing.T, cfg Config) []events.Event {
	var out []events.Event
	if err := Generate(cfg, func(ev *events.Event) error { out = append(out, *ev); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// The same seed gives the same stream; the stream is in time order, inside
// the period, with duplicates at the configured rate.
func TestGenerate(t *testing.T) {
	cfg := Default()
	cfg.Contacts = 300
	a, b := collect(t, cfg), collect(t, cfg)
	if len(a) != len(b) || len(a) < 1000 {
		t.Fatalf("%d vs %d events", len(a), len(b))
	}
	ids := map[string]bool{}
	dups := 0
	types := map[string]int{}
	end := cfg.Start.Add(time.Duration(cfg.Days) * 24 * time.Hour)
	for i := range a {
		if a[i].ID != b[i].ID || !a[i].OccurredAt.Equal(b[i].OccurredAt) || a[i].Type != b[i].Type {
			t.Fatalf("event %d differs between runs", i)
		}
		if i > 0 && a[i].OccurredAt.Before(a[i-1].OccurredAt) {
			t.Fatalf("event %d out of time order", i)
		}
		if a[i].OccurredAt.Before(cfg.Start) || !a[i].OccurredAt.Before(end) {
			t.Fatalf("event %d at %v outside the period", i, a[i].OccurredAt)
		}
		if ids[a[i].ID] {
			dups++
		}
		ids[a[i].ID] = true
		types[a[i].Type]++
	}
	if dups == 0 || float64(dups)/float64(len(a)) > 3*cfg.DuplicateRate {
		t.Errorf("%d duplicates in %d events", dups, len(a))
	}
	if len(types) < 8 || types["email_opened"] < types["meeting_booked"] {
		t.Errorf("unrealistic mix: %v", types)
	}
	cfg.Seed++
	if c := collect(t, cfg); c[0].ID == a[0].ID && c[0].OccurredAt.Equal(a[0].OccurredAt) && c[0].ContactID == a[0].ContactID {
		t.Error("another seed gave the same stream")
	}
	cfg.Events = 100
	if n := len(collect(t, cfg)); n < 100 || n > 110 {
		t.Errorf("Events: 100 gave %d", n)
	}
}
