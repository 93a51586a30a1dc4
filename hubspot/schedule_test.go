package hubspot

import (
	"testing"
	"time"
)

func steps(spec ...any) []Step {
	var out []Step
	for i := 0; i < len(spec); i += 2 {
		out = append(out, Step{StepOrder: i / 2, ActionType: spec[i].(string), DelayMillis: spec[i+1].(time.Duration).Milliseconds()})
	}
	return out
}

func TestEmailSendOffsets(t *testing.T) {
	const h, d = time.Hour, 24 * time.Hour
	tests := []struct {
		name  string
		steps []Step
		want  []time.Duration
		peak  int
	}{
		{"single email", steps(ActionEmail, time.Duration(0)), []time.Duration{0}, 1},
		{"tasks delay emails", steps(ActionEmail, time.Duration(0), ActionTask, 4*h, ActionEmail, d, ActionTask, d, ActionEmail, 2*d), []time.Duration{0, 4*h + d, 4*h + 4*d}, 1},
		{"two in a day", steps(ActionEmail, time.Duration(0), ActionEmail, 20*h), []time.Duration{0, 20 * h}, 2},
		{"exactly 24h apart are two windows", steps(ActionEmail, time.Duration(0), ActionEmail, d), []time.Duration{0, d}, 1},
		{"no emails", steps(ActionTask, h), nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Sequence{Steps: tt.steps}
			got := s.EmailSendOffsets()
			if len(got) != len(tt.want) {
				t.Fatalf("offsets %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("offsets %v, want %v", got, tt.want)
				}
			}
			if p := s.PeakSendsPerWindow(SendWindow); p != tt.peak {
				t.Errorf("peak %d, want %d", p, tt.peak)
			}
		})
	}
	// Steps out of order are ordered by stepOrder.
	s := &Sequence{Steps: []Step{{StepOrder: 1, ActionType: ActionEmail, DelayMillis: 1000}, {StepOrder: 0, ActionType: ActionTask, DelayMillis: 5000}}}
	if got := s.EmailSendOffsets(); len(got) != 1 || got[0] != 6*time.Second {
		t.Errorf("unordered steps: %v", got)
	}
}

// The practitioners' warning: 80 new enrollments a day into a sequence that
// emails on days 0, 1 and 2 stacks to 240 sends a day from day 3.
func TestSendsStack(t *testing.T) {
	const d = 24 * time.Hour
	offsets := []time.Duration{0, d, 2 * d}
	day0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var sends []time.Time
	for day := range 5 {
		for i := range 80 {
			sends = append(sends, SendTimes(offsets, day0.Add(time.Duration(day)*d+time.Duration(i)*time.Minute))...)
		}
	}
	if got := MaxSendsWithNew(nil, sends, SendWindow); got != 240 {
		t.Errorf("peak %d sends per 24 h, want 240", got)
	}
	if got := MaxSendsWithNew(nil, sends[:3*80], SendWindow); got != 80 {
		t.Errorf("one day of enrollments: peak %d, want 80", got)
	}
}

func TestMaxSendsWithNew(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	at := func(hours ...float64) []time.Time {
		var out []time.Time
		for _, h := range hours {
			out = append(out, t0.Add(time.Duration(h*float64(time.Hour))))
		}
		return out
	}
	tests := []struct {
		name            string
		existing, added []time.Time
		want            int
	}{
		{"shares a window with 0,1,2", at(0, 1, 2, 30, 31), at(23), 4},
		{"2 is exactly 24 h before 26: another window", at(0, 1, 2, 30, 31), at(26), 3},
		{"alone after the others", at(0, 1, 2, 30, 31), at(60), 1},
		{"two new: 24,25,30,31", at(0, 1, 2, 30, 31), at(24, 25), 4},
		{"nothing new", at(0, 1, 2, 30, 31), nil, 0},
		{"alone", nil, at(0), 1},
		{"same window", at(1, 2), at(0), 3},
		{"window edge excluded", at(24), at(0), 1},
		{"just inside", at(23.9), at(0), 2},
		{"busy window without new sends ignored", at(30, 31, 32, 33), at(0, 100), 1},
		{"two new in one window", at(10), at(0, 20), 3},
		{"before and after", at(-23, 23), at(0), 2},
		{"unsorted input", at(31, 0, 30, 2, 1), at(25, 24), 4},
		{"equal times", at(5, 5, 5), at(5), 4},
	}
	for _, tt := range tests {
		if got := MaxSendsWithNew(tt.existing, tt.added, SendWindow); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}
