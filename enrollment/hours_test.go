package enrollment

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
)

func TestHoursStage(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	at := func(loc *time.Location, y int, m time.Month, d, h, min int) time.Time {
		return time.Date(y, m, d, h, min, 0, 0, loc)
	}
	tests := []struct {
		name   string
		now    time.Time
		tz     any // contact timezone
		weekd  bool
		want   string
		next   time.Time
		detail string
	}{
		{name: "inside, default zone", now: at(ny, 2026, 3, 10, 10, 0), weekd: true, want: "pass"},
		{name: "at opening", now: at(ny, 2026, 3, 10, 9, 0), weekd: true, want: "pass"},
		{name: "at closing is outside", now: at(ny, 2026, 3, 10, 17, 0), weekd: true, want: "held:business_hours",
			next: at(ny, 2026, 3, 11, 9, 0)},
		{name: "early morning opens today", now: at(ny, 2026, 3, 10, 6, 30), weekd: true, want: "held:business_hours",
			next: at(ny, 2026, 3, 10, 9, 0)},
		{name: "friday evening opens monday", now: at(ny, 2026, 3, 13, 18, 0), weekd: true, want: "held:business_hours",
			next: at(ny, 2026, 3, 16, 9, 0)},
		{name: "saturday open without weekdays_only", now: at(ny, 2026, 3, 14, 11, 0), want: "pass"},
		{name: "saturday held with weekdays_only", now: at(ny, 2026, 3, 14, 11, 0), weekd: true, want: "held:business_hours",
			next: at(ny, 2026, 3, 16, 9, 0)},
		{name: "recipient zone wins: 10:00 NY is midnight Tokyo", now: at(ny, 2026, 3, 10, 10, 0), tz: "Asia/Tokyo", weekd: true,
			want: "held:business_hours", next: at(tokyo, 2026, 3, 11, 9, 0)},
		{name: "recipient inside while NY sleeps", now: at(tokyo, 2026, 3, 11, 10, 0), tz: "Asia/Tokyo", weekd: true, want: "pass"},
		{name: "unknown zone falls back to default and says so", now: at(ny, 2026, 3, 10, 20, 0), tz: "Mars/Base", weekd: true,
			want: "held:business_hours", next: at(ny, 2026, 3, 11, 9, 0), detail: "unknown timezone Mars/Base"},
		// 8 March 2026: New York springs forward at 02:00.
		{name: "DST day opens at local 09:00", now: at(ny, 2026, 3, 7, 20, 0), weekd: false, want: "held:business_hours",
			next: at(ny, 2026, 3, 8, 9, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testCfg(t, func(c *Config) { c.BusinessHours.WeekdaysOnly = tt.weekd })
			c := crossing("a", func(c *events.Crossing) {
				if tt.tz != nil {
					c.Contact["timezone"] = tt.tz
				}
			})
			a := routed(t, cfg, c, tt.now)
			d, err := HoursStage{Config: cfg}.Exec(context.Background(), a)
			if err != nil {
				t.Fatal(err)
			}
			if got := outcome(d); got != tt.want {
				t.Fatalf("got %s, want %s (%+v)", got, tt.want, d)
			}
			if d == nil {
				return
			}
			if !d.NotBefore.Equal(tt.next) {
				t.Errorf("opens %v, want %v", d.NotBefore, tt.next)
			}
			if !strings.Contains(d.Detail, tt.detail) {
				t.Errorf("detail %q lacks %q", d.Detail, tt.detail)
			}
		})
	}
}

func TestHoursSkipWorkflowsAndUnconfigured(t *testing.T) {
	night := time.Date(2026, 3, 10, 3, 0, 0, 0, time.UTC)
	cfg := testCfg(t)
	if d, _ := (HoursStage{Config: cfg}).Exec(context.Background(), routed(t, cfg, crossing("a", nurture), night)); d != nil {
		t.Errorf("workflow held: %+v", d)
	}
	cfg = testCfg(t, func(c *Config) { c.BusinessHours = nil })
	if d, _ := (HoursStage{Config: cfg}).Exec(context.Background(), routed(t, cfg, crossing("a"), night)); d != nil {
		t.Errorf("held without business_hours: %+v", d)
	}
}
