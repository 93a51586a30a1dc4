package writeback

import (
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/leadscores"
)

func TestPropertiesOf(t *testing.T) {
	sales := "sales"
	at := time.Date(2026, 11, 20, 9, 58, 0, 0, time.UTC)
	m := leadscores.Message{ContactID: "1", Models: map[string]leadscores.Model{
		"engagement": {Score: 42.5, Threshold: &sales, CrossedAt: &at, Top: []leadscores.Group{{Group: "call_started", Points: 30}, {Group: "email_open", Points: 8}}},
		"intent":     {Score: 0, Top: []leadscores.Group{}},
		"fit":        {Score: 3},
	}}
	c := &Config{Models: []string{"engagement", "intent"}}
	if ps := c.Check(); len(ps) > 0 {
		t.Fatal(ps)
	}
	got := c.propertiesOf(&m)
	want := map[string]string{
		"scorebridge_engagement_score": "42.5", "scorebridge_engagement_threshold": "sales",
		"scorebridge_engagement_crossed_at": "1795168680000", "scorebridge_engagement_top": "call_started 30; email_open 8",
		"scorebridge_intent_score": "0", "scorebridge_intent_threshold": "", "scorebridge_intent_crossed_at": "", "scorebridge_intent_top": "",
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestWorthWriting(t *testing.T) {
	sales, nurture := "sales", "nurture"
	msg := func(score float64, th *string, top float64) leadscores.Message {
		return leadscores.Message{ContactID: "1", Models: map[string]leadscores.Model{
			"m": {Score: score, Threshold: th, Top: []leadscores.Group{{Group: "g", Points: top}}}}}
	}
	cases := []struct {
		name      string
		minDelta  float64
		old, next leadscores.Message
		want      bool
	}{
		{"moved less than min_delta", 1, msg(10, nil, 1), msg(10.5, nil, 1), false},
		{"moved min_delta", 1, msg(10, nil, 1), msg(11, nil, 1), true},
		{"moved down min_delta", 1, msg(10, nil, 1), msg(9, nil, 1), true},
		{"threshold changed, score barely", 1, msg(10, &nurture, 1), msg(10.1, &sales, 1), true},
		{"threshold gone", 1, msg(10, &sales, 1), msg(10, nil, 1), true},
		{"top alone does not count", 1, msg(10, nil, 1), msg(10, nil, 2), false},
		{"min_delta 0: any value", 0, msg(10, nil, 1), msg(10, nil, 2), true},
		{"min_delta 0: nothing changed", 0, msg(10, nil, 1), msg(10, nil, 1), false},
	}
	for _, tc := range cases {
		c := &Config{MinDelta: &tc.minDelta}
		if ps := c.Check(); len(ps) > 0 {
			t.Fatal(ps)
		}
		if got := writtenOf(c, &tc.old).worthWriting(c.minDelta, writtenOf(c, &tc.next)); got != tc.want {
			t.Errorf("%s: worthWriting = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestOwns(t *testing.T) {
	all := &Config{}
	one := &Config{Models: []string{"engagement"}}
	for _, c := range []*Config{all, one} {
		if ps := c.Check(); len(ps) > 0 {
			t.Fatal(ps)
		}
	}
	cases := []struct {
		c    *Config
		name string
		want bool
	}{
		{all, "scorebridge_engagement_score", true},
		{all, "scorebridge_intent_top", true},
		{all, "scorebridge__score", false},
		{all, "lifecyclestage", false},
		{one, "scorebridge_engagement_crossed_at", true},
		{one, "scorebridge_intent_score", false},
	}
	for _, tc := range cases {
		if got := tc.c.Owns(tc.name); got != tc.want {
			t.Errorf("Owns(%q) with models %v = %v", tc.name, tc.c.Models, got)
		}
	}
}
