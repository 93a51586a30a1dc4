package analytics

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// CadenceQuery selects enrollments (From <= enrolled at < To; zero is
// unbounded) and groups them by "sequence" or "owner".
type CadenceQuery struct {
	By       string
	From, To time.Time
}

// CadenceRow is one sequence's (or owner's) funnel.
type CadenceRow struct {
	Key                     string           `json:"key"`
	Enrolled                int64            `json:"enrolled"`
	Replied                 int64            `json:"replied"`
	MeetingBooked           int64            `json:"meeting_booked"`
	Unenrolled              int64            `json:"unenrolled"`
	UnenrolledByReason      map[string]int64 `json:"unenrolled_by_reason"`
	TouchesBeforeEnrollment float64          `json:"avg_touches_before_enrollment"`
	// Medians in seconds; -1 when no enrollment had the data.
	MedianCrossingToEnrollment float64 `json:"median_crossing_to_enrollment_s"`
	MedianEnrollmentToResponse float64 `json:"median_enrollment_to_first_response_s"`
}

// CadenceReport is the answer of Cadence.
type CadenceReport struct {
	By   string       `json:"by"`
	Rows []CadenceRow `json:"rows"`
	SQL  []string     `json:"-"`
}

// Cadence summarises sequence enrollments: how many were enrolled, replied,
// booked a meeting or were unenrolled (by reason), how many touches came
// before enrollment, and the median delays crossing -> enrollment and
// enrollment -> first reply or meeting. Replies, meetings and unenrollments
// come from explicit enrollment_events and from the contact's
// email_replied, meeting_booked and unsubscribed touches after the
// enrollment (see matchOutcomeTouches and docs/analysts.md).
func (s *Store) Cadence(ctx context.Context, q CadenceQuery) (CadenceReport, error) {
	return cadence(ctx, s.db, q)
}

// The SQL only de-duplicates (argMax by version per id) and gathers; the
// funnel logic, which needs each reply matched to its enrollment, is Go.
const cadenceEventsSQL = `SELECT event_id,
    argMax(contact_id, version) AS e_contact,
    argMax(sequence_id, version) AS e_sequence,
    argMax(owner_id, version) AS e_owner,
    argMax(crossing_id, version) AS e_crossing,
    argMax(kind, version) AS e_kind,
    argMax(reason, version) AS e_reason,
    argMax(at_us, version) AS e_at
FROM enrollment_events
GROUP BY event_id`

const cadenceCrossingsSQL = `SELECT crossing_id,
    argMax(contact_id, version) AS x_contact,
    argMax(crossed_us, version) AS x_at
FROM crossings
WHERE contact_id IN (SELECT contact_id FROM enrollment_events WHERE kind = 'enrolled')
GROUP BY crossing_id`

const cadenceTouchesSQL = `SELECT contact_id, groupArray(t_at) AS ts
FROM (
    SELECT contact_id, event_id, any(occurred_us) AS t_at
    FROM touches
    WHERE contact_id IN (SELECT contact_id FROM enrollment_events WHERE kind = 'enrolled')
    GROUP BY contact_id, event_id
)
GROUP BY contact_id`

// Touch types the cadence report reads as a sequence's outcomes: HubSpot
// has no reply webhook in our API, but the engagement stream the scorer
// records carries these, and HubSpot unenrolls a contact from its sequence
// when they reply, book a meeting or unsubscribe.
const (
	TouchReplied       = "email_replied"
	TouchMeetingBooked = "meeting_booked"
	TouchUnsubscribed  = "unsubscribed"
)

// cadenceOutcomesSQL gathers the enrolled contacts' reply, meeting and
// unsubscribe touches, one row per (de-duplicated) event.
const cadenceOutcomesSQL = `SELECT contact_id, event_id,
    argMax(type, version) AS o_type,
    argMax(occurred_us, version) AS o_at
FROM touches
WHERE type IN ('email_replied', 'meeting_booked', 'unsubscribed')
  AND contact_id IN (SELECT contact_id FROM enrollment_events WHERE kind = 'enrolled')
GROUP BY contact_id, event_id`

type enrollment struct {
	contact, sequence, owner, crossing string
	at                                 int64
	replied, meeting                   bool
	firstResponse                      int64 // 0: none
	unenrolled                         []string
	// implied is the reason HubSpot unenrolled the contact, learned from
	// its first reply, meeting or unsubscribe touch; used only when no
	// explicit unenrolled event exists.
	implied string
}

// outcomeTouch is a reply, meeting or unsubscribe touch.
type outcomeTouch struct {
	contact, id, typ string
	at               int64
}

type enrollEvent struct {
	id, contact, sequence, owner, crossing, kind, reason string
	at                                                   int64
}

func cadence(ctx context.Context, d db, q CadenceQuery) (CadenceReport, error) {
	if q.By == "" {
		q.By = "sequence"
	}
	if q.By != "sequence" && q.By != "owner" {
		return CadenceReport{}, fmt.Errorf("cadence: --by %q: want sequence or owner", q.By)
	}
	rep := CadenceReport{By: q.By, SQL: []string{cadenceEventsSQL, cadenceCrossingsSQL, cadenceTouchesSQL, cadenceOutcomesSQL}}
	var evs []enrollEvent
	err := each(ctx, d, cadenceEventsSQL, func(r rows) error {
		var e enrollEvent
		if err := r.Scan(&e.id, &e.contact, &e.sequence, &e.owner, &e.crossing, &e.kind, &e.reason, &e.at); err != nil {
			return err
		}
		evs = append(evs, e)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("cadence events: %w", err)
	}
	crossAt := map[string]int64{}
	crossByContact := map[string][]int64{}
	err = each(ctx, d, cadenceCrossingsSQL, func(r rows) error {
		var id, contact string
		var at int64
		if err := r.Scan(&id, &contact, &at); err != nil {
			return err
		}
		crossAt[id] = at
		crossByContact[contact] = append(crossByContact[contact], at)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("cadence crossings: %w", err)
	}
	touchTS := map[string][]int64{}
	err = each(ctx, d, cadenceTouchesSQL, func(r rows) error {
		var contact string
		var ts []int64
		if err := r.Scan(&contact, &ts); err != nil {
			return err
		}
		slices.Sort(ts)
		touchTS[contact] = ts
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("cadence touches: %w", err)
	}
	var outcomes []outcomeTouch
	err = each(ctx, d, cadenceOutcomesSQL, func(r rows) error {
		var o outcomeTouch
		if err := r.Scan(&o.contact, &o.id, &o.typ, &o.at); err != nil {
			return err
		}
		outcomes = append(outcomes, o)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("cadence outcome touches: %w", err)
	}
	enrollments := matchEnrollments(evs)
	matchOutcomeTouches(enrollments, outcomes)
	rep.Rows = cadenceRows(q, enrollments, crossAt, crossByContact, touchTS)
	return rep, nil
}

// matchEnrollments turns events into enrollments: each reply, meeting or
// unenrollment belongs to the contact's latest enrollment in the same
// sequence at or before it.
func matchEnrollments(evs []enrollEvent) []*enrollment {
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].at != evs[j].at {
			return evs[i].at < evs[j].at
		}
		// An enrollment sorts before what happens at the same instant.
		if (evs[i].kind == KindEnrolled) != (evs[j].kind == KindEnrolled) {
			return evs[i].kind == KindEnrolled
		}
		return evs[i].id < evs[j].id
	})
	var out []*enrollment
	open := map[[2]string]*enrollment{}
	for _, e := range evs {
		k := [2]string{e.contact, e.sequence}
		if e.kind == KindEnrolled {
			en := &enrollment{contact: e.contact, sequence: e.sequence, owner: e.owner, crossing: e.crossing, at: e.at}
			open[k] = en
			out = append(out, en)
			continue
		}
		en := open[k]
		if en == nil {
			continue // enrolled outside the bridge's record
		}
		switch e.kind {
		case KindReplied, KindMeetingBooked:
			if e.kind == KindReplied {
				en.replied = true
			} else {
				en.meeting = true
			}
			if en.firstResponse == 0 {
				en.firstResponse = e.at
			}
		case KindUnenrolled:
			reason := e.reason
			if reason == "" {
				reason = "unknown"
			}
			en.unenrolled = append(en.unenrolled, reason)
		}
	}
	return out
}

// matchOutcomeTouches credits each reply, meeting or unsubscribe touch to
// the contact's latest enrollment at or before it (in any sequence: a touch
// names none), so a touch after the contact's next enrollment belongs to
// that one. An enrollment already credited by an explicit event is not
// counted again: replied and meeting are flags, the first response is the
// earliest of both sources.
func matchOutcomeTouches(ens []*enrollment, ts []outcomeTouch) {
	byContact := map[string][]*enrollment{}
	for _, en := range ens { // ens is in enrollment order
		byContact[en.contact] = append(byContact[en.contact], en)
	}
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].at != ts[j].at {
			return ts[i].at < ts[j].at
		}
		return ts[i].id < ts[j].id
	})
	for _, t := range ts {
		list := byContact[t.contact]
		i := sort.Search(len(list), func(i int) bool { return list[i].at > t.at }) - 1
		if i < 0 {
			continue // before the contact's first enrollment
		}
		en := list[i]
		reason := ""
		switch t.typ {
		case TouchReplied:
			en.replied, reason = true, "reply"
		case TouchMeetingBooked:
			en.meeting, reason = true, "meeting"
		case TouchUnsubscribed:
			reason = "unsubscribe"
		default:
			continue
		}
		if t.typ != TouchUnsubscribed && (en.firstResponse == 0 || t.at < en.firstResponse) {
			en.firstResponse = t.at
		}
		if en.implied == "" {
			en.implied = reason // the first such touch is what unenrolled
		}
	}
}

func cadenceRows(q CadenceQuery, ens []*enrollment, crossAt map[string]int64, crossByContact map[string][]int64, touchTS map[string][]int64) []CadenceRow {
	type acc struct {
		row       CadenceRow
		touches   int64
		toEnroll  []float64
		toRespond []float64
	}
	groups := map[string]*acc{}
	from, to := q.From.UnixMicro(), q.To.UnixMicro()
	for _, en := range ens {
		if (!q.From.IsZero() && en.at < from) || (!q.To.IsZero() && en.at >= to) {
			continue
		}
		key := en.sequence
		if q.By == "owner" {
			key = en.owner
		}
		if key == "" {
			key = NoneKey
		}
		g := groups[key]
		if g == nil {
			g = &acc{row: CadenceRow{Key: key, UnenrolledByReason: map[string]int64{}}}
			groups[key] = g
		}
		g.row.Enrolled++
		if en.replied {
			g.row.Replied++
		}
		if en.meeting {
			g.row.MeetingBooked++
		}
		switch {
		case len(en.unenrolled) > 0:
			g.row.Unenrolled++
			g.row.UnenrolledByReason[en.unenrolled[0]]++
		case en.implied != "":
			g.row.Unenrolled++
			g.row.UnenrolledByReason[en.implied]++
		}
		n, _ := slices.BinarySearch(touchTS[en.contact], en.at)
		g.touches += int64(n)
		if at, ok := crossingTime(en, crossAt, crossByContact); ok {
			g.toEnroll = append(g.toEnroll, float64(en.at-at)/1e6)
		}
		if en.firstResponse != 0 {
			g.toRespond = append(g.toRespond, float64(en.firstResponse-en.at)/1e6)
		}
	}
	out := make([]CadenceRow, 0, len(groups))
	for _, g := range groups {
		g.row.TouchesBeforeEnrollment = float64(g.touches) / float64(g.row.Enrolled)
		g.row.MedianCrossingToEnrollment = median(g.toEnroll)
		g.row.MedianEnrollmentToResponse = median(g.toRespond)
		out = append(out, g.row)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// crossingTime is the enrollment's crossing: the one it names, else the
// contact's latest crossing at or before the enrollment.
func crossingTime(en *enrollment, crossAt map[string]int64, byContact map[string][]int64) (int64, bool) {
	if at, ok := crossAt[en.crossing]; ok && en.crossing != "" {
		return at, true
	}
	best, ok := int64(0), false
	for _, at := range byContact[en.contact] {
		if at <= en.at && (!ok || at > best) {
			best, ok = at, true
		}
	}
	return best, ok
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return -1
	}
	slices.Sort(xs)
	m := len(xs) / 2
	if len(xs)%2 == 1 {
		return xs[m]
	}
	return (xs[m-1] + xs[m]) / 2
}

// each runs a query and calls f for every row.
func each(ctx context.Context, d db, sql string, f func(rows) error) error {
	r, err := d.query(ctx, sql)
	if err != nil {
		return err
	}
	defer r.Close()
	for r.Next() {
		if err := f(r); err != nil {
			return err
		}
	}
	return r.Err()
}

func formatReasons(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s:%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
