package analytics

import (
	"context"
	"reflect"
	"testing"
)

// writeCadenceTouches stores enrollments whose replies, meetings and
// unsubscribes are known only (or also) from the touch stream, every row
// twice, as a replay would. The expected funnel is worked out by hand in
// checkCadenceTouches.
func writeCadenceTouches(t testing.TB, w *Writer) {
	t.Helper()
	touch := func(id, contact, typ string, day float64) Touch {
		return Touch{EventID: id, ContactID: contact, Type: typ, OccurredAt: dayN(day)}
	}
	enrolled := func(contact, seq, owner, crossing string, day float64) EnrollmentEvent {
		return EnrollmentEvent{EventID: "enrolled:" + contact + ":" + seq, ContactID: contact, SequenceID: seq,
			OwnerID: owner, CrossingID: crossing, Kind: KindEnrolled, At: dayN(day)}
	}
	explicit := func(id, contact, seq, kind, reason string, day float64) EnrollmentEvent {
		return EnrollmentEvent{EventID: id, ContactID: contact, SequenceID: seq, Kind: kind, Reason: reason, At: dayN(day)}
	}
	touches := []Touch{
		// r1: a visit before; two replies and a meeting after (one reply counted, unenrolled by the first reply).
		touch("r1-v", "r1", "page_view", 0), touch("r1-a", "r1", TouchReplied, 2), touch("r1-b", "r1", TouchReplied, 3),
		touch("r1-m", "r1", TouchMeetingBooked, 4),
		// r2: the same reply as an explicit event and as a touch: counted once.
		touch("r2-a", "r2", TouchReplied, 1.5),
		// r3: unsubscribed first, replied later: unenrolled by the unsubscribe.
		touch("r3-u", "r3", TouchUnsubscribed, 2), touch("r3-a", "r3", TouchReplied, 3),
		// r4: explicitly unenrolled (bounce) before a meeting: the explicit reason stands.
		touch("r4-m", "r4", TouchMeetingBooked, 2),
		// r5: replied before the enrollment only.
		touch("r5-a", "r5", TouchReplied, 0),
		// r6: a reply in A, then enrolled in B, then a meeting: the meeting is B's.
		touch("r6-a", "r6", TouchReplied, 2), touch("r6-m", "r6", TouchMeetingBooked, 6),
		// r7: never enrolled.
		touch("r7-a", "r7", TouchReplied, 2),
		// r8: a meeting at the enrollment's instant belongs to it.
		touch("r8-m", "r8", TouchMeetingBooked, 1),
		// r9: the reply's touch comes before its explicit event: the earlier time counts.
		touch("r9-a", "r9", TouchReplied, 2),
	}
	evs := []EnrollmentEvent{
		enrolled("r1", "A", "OA", "xr1", 1),
		enrolled("r2", "A", "OA", "", 1),
		explicit("r2-replied", "r2", "A", KindReplied, "", 1.5),
		explicit("r2-unenrolled", "r2", "A", KindUnenrolled, "reply", 1.5),
		enrolled("r3", "A", "OA", "", 1),
		enrolled("r4", "A", "OA", "", 1),
		explicit("r4-unenrolled", "r4", "A", KindUnenrolled, "bounce", 1.2),
		enrolled("r5", "B", "OB", "", 1),
		enrolled("r6", "A", "OA", "", 1),
		enrolled("r6", "B", "OB", "", 5),
		enrolled("r8", "B", "OB", "", 1),
		enrolled("r9", "B", "OB", "", 1),
		explicit("r9-replied", "r9", "B", KindReplied, "", 3),
	}
	crossings := []CrossingRow{{CrossingID: "xr1", ContactID: "r1", Model: "engagement", ThresholdName: "mql", CrossedAt: dayN(0.5)}}
	for i := 0; i < 2; i++ {
		must(t, w.AddTouches(touches...))
		must(t, w.AddEnrollmentEvents(evs...))
		must(t, w.AddCrossings(crossings...))
		must(t, w.Flush(context.Background()))
	}
}

func TestCadenceFromTouches(t *testing.T) {
	s := openTestStore(t)
	w := s.NewWriter(WriterOptions{})
	writeCadenceTouches(t, w)
	must(t, w.Close(context.Background()))
	checkCadenceTouches(t, s)
}

func checkCadenceTouches(t *testing.T, s *Store) {
	const d = 86400.0
	// A: r1 r2 r3 r4 r6; replied r1 r2 r3 r6; meetings r1 r4; unenrolled
	// r1 r2 r6 by reply, r3 by unsubscribe, r4 by bounce; touches before:
	// r1's visit; crossing -> enrollment: r1's 0.5 d; first responses
	// 1, 0.5, 2, 1, 1 d.
	a := CadenceRow{Key: "A", Enrolled: 5, Replied: 4, MeetingBooked: 2, Unenrolled: 5,
		UnenrolledByReason:      map[string]int64{"reply": 3, "unsubscribe": 1, "bounce": 1},
		TouchesBeforeEnrollment: 0.2, MedianCrossingToEnrollment: 0.5 * d, MedianEnrollmentToResponse: d}
	// B: r5 r6 r8 r9; replied r9; meetings r6 r8; unenrolled r6 r8 by
	// meeting, r9 by reply; touches before: r5's reply, r6's reply in A;
	// no crossings; first responses 1, 0, 1 d.
	b := CadenceRow{Key: "B", Enrolled: 4, Replied: 1, MeetingBooked: 2, Unenrolled: 3,
		UnenrolledByReason:      map[string]int64{"meeting": 2, "reply": 1},
		TouchesBeforeEnrollment: 0.5, MedianCrossingToEnrollment: -1, MedianEnrollmentToResponse: d}
	oa, ob := a, b
	oa.Key, ob.Key = "OA", "OB"
	// From day 3: only r6's enrollment in B; its reply in A stays A's.
	late := CadenceRow{Key: "B", Enrolled: 1, MeetingBooked: 1, Unenrolled: 1,
		UnenrolledByReason:      map[string]int64{"meeting": 1},
		TouchesBeforeEnrollment: 1, MedianCrossingToEnrollment: -1, MedianEnrollmentToResponse: d}
	for _, tc := range []struct {
		name string
		q    CadenceQuery
		want []CadenceRow
	}{
		{"sequence", CadenceQuery{By: "sequence"}, []CadenceRow{a, b}},
		{"owner", CadenceQuery{By: "owner"}, []CadenceRow{oa, ob}},
		{"from day 3", CadenceQuery{By: "sequence", From: dayN(3)}, []CadenceRow{late}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Cadence(context.Background(), tc.q)
			must(t, err)
			if !reflect.DeepEqual(got.Rows, tc.want) {
				t.Fatalf("cadence %s:\n got %+v\nwant %+v", tc.name, got.Rows, tc.want)
			}
		})
	}
}

// The matching alone, without a server: which enrollment a touch belongs to.
func TestMatchOutcomeTouches(t *testing.T) {
	ens := matchEnrollments([]enrollEvent{
		{id: "e1", contact: "c", sequence: "A", kind: KindEnrolled, at: 10},
		{id: "e2", contact: "c", sequence: "B", kind: KindEnrolled, at: 20},
		{id: "u1", contact: "c", sequence: "A", kind: KindUnenrolled, reason: "manual", at: 12},
	})
	matchOutcomeTouches(ens, []outcomeTouch{
		{contact: "c", id: "t0", typ: TouchReplied, at: 5},        // before any enrollment
		{contact: "c", id: "t2", typ: TouchMeetingBooked, at: 25}, // B's
		{contact: "c", id: "t1", typ: TouchReplied, at: 15},       // A's, after its manual unenrollment
		{contact: "c", id: "t3", typ: TouchUnsubscribed, at: 21},  // B's, first: B's implied reason
		{contact: "c", id: "t4", typ: "page_view", at: 22},        // not an outcome
		{contact: "other", id: "t5", typ: TouchReplied, at: 15},   // no enrollment
	})
	got := [][]any{}
	for _, en := range ens {
		got = append(got, []any{en.sequence, en.replied, en.meeting, en.firstResponse, en.unenrolled, en.implied})
	}
	want := [][]any{
		{"A", true, false, int64(15), []string{"manual"}, "reply"},
		{"B", false, true, int64(25), []string(nil), "unsubscribe"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("matched:\n got %v\nwant %v", got, want)
	}
}
