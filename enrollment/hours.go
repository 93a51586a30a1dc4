package enrollment

import (
	"context"
	"time"
)

// HoursStage enrolls into sequences only inside business hours in the
// recipient's time zone (the contact's `timezone`, else the default), so
// the first email does not land at 3 a.m. Workflows are not held.
type HoursStage struct{ Config *Config }

// Name implements Stage.
func (HoursStage) Name() string { return "business_hours" }

// Exec implements Stage.
func (s HoursStage) Exec(_ context.Context, a *Attempt) (*Decision, error) {
	h := s.Config.BusinessHours
	if h == nil || a.Route.Target().Kind != TargetSequence {
		return nil, nil
	}
	loc, note := h.location(contactString(a.Crossing.Contact, "timezone"))
	next, open := h.next(a.Now, loc)
	if open {
		return nil, nil
	}
	detail := "opens " + next.In(loc).Format("Mon 2006-01-02 15:04 MST")
	if note != "" {
		detail += "; " + note
	}
	return held(a, ReasonBusinessHours, next, detail), nil
}

// location is the recipient's zone; an unknown name falls back to the
// default, and the decision notes it.
func (h *BusinessHours) location(tz string) (*time.Location, string) {
	if tz == "" {
		return h.defaultLoc, ""
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return h.defaultLoc, "unknown timezone " + tz + ", used " + h.DefaultTimezone
	}
	return loc, ""
}

// next reports whether now is inside the window, and if not when it opens.
func (h *BusinessHours) next(now time.Time, loc *time.Location) (time.Time, bool) {
	local := now.In(loc)
	if h.openDay(local.Weekday()) {
		mins := local.Hour()*60 + local.Minute()
		if mins >= h.start && mins < h.end {
			return now, true
		}
	}
	y, m, d := local.Date()
	for i := 0; i < 8; i++ {
		// time.Date normalises the day and resolves DST in loc.
		open := time.Date(y, m, d+i, h.start/60, h.start%60, 0, 0, loc)
		if open.After(local) && h.openDay(open.Weekday()) {
			return open, false
		}
	}
	return now, true // unreachable with a valid window
}

func (h *BusinessHours) openDay(wd time.Weekday) bool {
	return !h.WeekdaysOnly || (wd != time.Saturday && wd != time.Sunday)
}
