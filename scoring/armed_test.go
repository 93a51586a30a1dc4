package scoring

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/rules"
)

const twoThresholds = `
model: m
thresholds:
  - {name: nurture, score: 10}
  - {name: sales, score: 30, rearm_below: 20}
groups:
  - {name: meeting, when: 'event.type == "meeting_booked"', points: 10}
  - {name: unsub, when: 'event.type == "unsubscribed"', points: -15}
`

// Armed names the highest threshold a contact is past and when it crossed
// it, through re-arming, and across a save and load of the state.
func TestArmed(t *testing.T) {
	cases := []struct {
		name   string
		rules  string
		events []string
		want   string // "threshold +Nh" or "none"
	}{
		{"nothing crossed", twoThresholds, []string{"a page_viewed 1h"}, "none"},
		{"the lower threshold", twoThresholds, []string{"a meeting_booked 1h"}, "nurture 1h"},
		{"the highest wins", twoThresholds,
			[]string{"a meeting_booked 1h", "b meeting_booked 2h", "c meeting_booked 3h"}, "sales 3h"},
		{"re-armed: back to the lower one, its time kept", twoThresholds,
			[]string{"a meeting_booked 1h", "b meeting_booked 2h", "c meeting_booked 3h", "u unsubscribed 4h"}, "nurture 1h"},
		{"crossed again: the new time", twoThresholds,
			[]string{"a meeting_booked 1h", "b meeting_booked 2h", "c meeting_booked 3h", "u unsubscribed 4h",
				"d meeting_booked 5h", "e meeting_booked 6h"}, "sales 6h"},
		{"everything re-armed", crossingRules,
			[]string{"a meeting_booked 1h", "b meeting_booked 2h", "u unsubscribed 3h"}, "none"},
		{"single threshold is named default", crossingRules,
			[]string{"a meeting_booked 1h", "b meeting_booked 2h"}, "default 2h"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := model(t, tc.rules)
			e, err := NewEngine(&rules.Set{Models: []*rules.Model{m}})
			if err != nil {
				t.Fatal(err)
			}
			s := NewScorer(e)
			c := &Contact{}
			for _, spec := range tc.events {
				x := ev(spec)
				s.Apply(c, &x)
			}
			if got := armedString(e, c); got != tc.want {
				t.Errorf("Armed = %s, want %s", got, tc.want)
			}
			loaded, err := e.Decode(e.Encode(nil, c))
			if err != nil {
				t.Fatal(err)
			}
			if got := armedString(e, loaded); got != tc.want {
				t.Errorf("after a save and load: Armed = %s, want %s", got, tc.want)
			}
		})
	}
}

func armedString(e *Engine, c *Contact) string {
	k, at, ok := e.Armed(c, 0)
	if !ok {
		return "none"
	}
	return e.Rules.Models[0].Thresholds[k].Name + " " + time.Duration(at - t0.UnixNano()).String()[:2]
}

// A state saved before crossing times were kept (codec version 1) still
// loads: the threshold stays past, its time unknown (0).
func TestDecodeVersion1(t *testing.T) {
	m := model(t, crossingRules)
	e, err := NewEngine(&rules.Set{Models: []*rules.Model{m}})
	if err != nil {
		t.Fatal(err)
	}
	s := NewScorer(e)
	c := &Contact{}
	for _, spec := range []string{"a meeting_booked 1h", "b meeting_booked 2h"} {
		x := ev(spec)
		s.Apply(c, &x)
	}
	v2 := e.Encode(nil, c)
	// Version 1 is version 2 without the time after each disarmed print.
	at := binary.AppendVarint(nil, c.crossedTime(0))
	v1 := append([]byte{1}, v2[1:len(v2)-len(at)]...)
	loaded, err := e.Decode(v1)
	if err != nil {
		t.Fatal(err)
	}
	k, when, ok := e.Armed(loaded, 0)
	if !ok || k != 0 || when != 0 {
		t.Fatalf("Armed = %d, %d, %v; want threshold 0, time unknown (0), true", k, when, ok)
	}
	if s.Score(loaded, 0, loaded.Latest) != s.Score(c, 0, c.Latest) {
		t.Fatal("score changed through version 1")
	}
}
