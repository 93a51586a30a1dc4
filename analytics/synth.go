package analytics

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// SyntheticHistory is a reproducible, realistic-looking touch history for
// tests, benchmarks and demos.
type SyntheticHistory struct {
	Touches     []Touch
	Crossings   []CrossingRow
	Enrollments []EnrollmentEvent
}

var synthTypes = []struct {
	name   string
	weight int
}{
	{"page_view", 40}, {"email_open", 25}, {"email_click", 12}, {"form_submit", 6},
	{"webinar_attended", 4}, {"content_download", 8}, {DefaultConversion, 5},
}

var synthChannels = []string{"web", "email", "paid_search", "social", "events", ""}

// Synthetic generates contacts x perContact touches (on average) between
// start and start+180 days, with microsecond times, ~5% meeting_booked
// conversions and a crossing for about a third of the contacts.
func Synthetic(seed uint64, contacts, perContact int, start time.Time) SyntheticHistory {
	return SyntheticRange(seed, 0, contacts, perContact, start)
}

// SyntheticRange is Synthetic for contacts first .. first+contacts-1, so
// large histories can be generated and written in slices.
func SyntheticRange(seed uint64, first, contacts, perContact int, start time.Time) SyntheticHistory {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	total := 0
	for _, t := range synthTypes {
		total += t.weight
	}
	span := int64(180 * 24 * time.Hour / time.Microsecond)
	var h SyntheticHistory
	h.Touches = make([]Touch, 0, contacts*perContact)
	for c := first; c < first+contacts; c++ {
		contact := fmt.Sprintf("contact-%07d", c)
		company := fmt.Sprintf("company-%05d", c/7)
		n := 1 + r.IntN(2*perContact-1)
		first := len(h.Touches)
		for i := 0; i < n; i++ {
			w := r.IntN(total)
			typ := synthTypes[0].name
			for _, t := range synthTypes {
				if w < t.weight {
					typ = t.name
					break
				}
				w -= t.weight
			}
			ch := synthChannels[r.IntN(len(synthChannels))]
			campaign := fmt.Sprintf("cmp-%02d", r.IntN(20))
			props := fmt.Sprintf(`{"campaign":%q,"channel":%q,"utm_source":%q,"visits":%d}`, campaign, ch, fmt.Sprintf("src-%d", r.IntN(8)), r.IntN(50))
			if ch == "" {
				props = fmt.Sprintf(`{"campaign":%q,"visits":%d}`, campaign, r.IntN(50))
			}
			h.Touches = append(h.Touches, Touch{
				EventID:     fmt.Sprintf("ev-%07d-%04d", c, i),
				ContactID:   contact,
				CompanyID:   company,
				Type:        typ,
				Channel:     ch,
				Campaign:    campaign,
				OccurredAt:  start.Add(time.Duration(r.Int64N(span)) * time.Microsecond),
				Properties:  props,
				RuleVersion: "synthetic",
			})
		}
		if r.IntN(3) == 0 {
			trig := h.Touches[first+r.IntN(n)]
			h.Crossings = append(h.Crossings, CrossingRow{
				CrossingID: fmt.Sprintf("x-%07d", c), ContactID: contact, CompanyID: company,
				Model: "engagement", ThresholdName: "mql", Threshold: 50 * MicroPoints, Score: 52 * MicroPoints,
				CrossedAt: trig.OccurredAt, EventID: trig.EventID, RuleVersion: "synthetic",
			})
			if r.IntN(5) < 3 {
				h.Enrollments = append(h.Enrollments, synthEnrollment(r, contact, trig.OccurredAt, fmt.Sprintf("x-%07d", c))...)
			}
		}
	}
	return h
}

// synthEnrollment enrolls a crossed contact within two days and plays out
// a typical sequence: some reply, fewer book, the rest finish or bounce.
func synthEnrollment(r *rand.Rand, contact string, crossed time.Time, crossing string) []EnrollmentEvent {
	seq := fmt.Sprintf("seq-%d", 9001+r.IntN(4))
	owner := fmt.Sprintf("owner-%d", r.IntN(6))
	at := crossed.Add(time.Duration(r.Int64N(int64(48 * time.Hour))))
	ev := func(kind, reason string, at time.Time) EnrollmentEvent {
		return EnrollmentEvent{EventID: contact + "/" + kind, ContactID: contact, SequenceID: seq,
			OwnerID: owner, CrossingID: crossing, Kind: kind, Reason: reason, At: at}
	}
	out := []EnrollmentEvent{ev(KindEnrolled, "", at)}
	later := at.Add(time.Duration(r.Int64N(int64(10 * 24 * time.Hour))))
	switch p := r.IntN(100); {
	case p < 25:
		out = append(out, ev(KindReplied, "", later), ev(KindUnenrolled, "reply", later))
	case p < 35:
		out = append(out, ev(KindMeetingBooked, "", later), ev(KindUnenrolled, "meeting_booked", later))
	case p < 40:
		out = append(out, ev(KindUnenrolled, "bounce", later))
	case p < 45:
		out = append(out, ev(KindUnenrolled, "unsubscribe", later))
	}
	return out
}
