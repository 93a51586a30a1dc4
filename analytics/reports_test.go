package analytics

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

var day0 = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

func dayN(n float64) time.Time { return day0.Add(time.Duration(n * float64(24*time.Hour))) }

// writeScenario stores a small hand-checked history, every row twice, as a
// replay after a crash would.
func writeScenario(t testing.TB, w *Writer) {
	t.Helper()
	touches := []Touch{
		{EventID: "t1", ContactID: "c1", Type: "page_view", Channel: "web", OccurredAt: dayN(1)},
		{EventID: "t2", ContactID: "c1", Type: "email_click", Channel: "email", Campaign: "spring", OccurredAt: dayN(2)},
		{EventID: "t3", ContactID: "c1", Type: "form_submit", Channel: "web", OccurredAt: dayN(3)},
		{EventID: "t4", ContactID: "c2", Type: "page_view", OccurredAt: dayN(1)},
	}
	ledger := []LedgerRow{
		{ContactID: "c1", Model: "engagement", EventID: "t1", Group: "views", Points: 5e6, Delta: 5e6, OccurredAt: dayN(1)},
		{ContactID: "c1", Model: "engagement", EventID: "t2", Group: "clicks", Points: 10e6, Delta: 10e6, OccurredAt: dayN(2)},
		{ContactID: "c1", Model: "engagement", EventID: "t3", Group: "views", Points: 5e6, Delta: 3e6, OccurredAt: dayN(3)},
		{ContactID: "c1", Model: "engagement", EventID: "t3", Group: TotalClampGroup, Points: 0, Delta: -2e6, OccurredAt: dayN(3)},
		{ContactID: "c1", Model: "fit", EventID: "t1", Group: "title", Points: 7_500_000, Delta: 7_500_000, OccurredAt: dayN(1)},
	}
	crossings := []CrossingRow{
		{CrossingID: "x1", ContactID: "c1", Model: "engagement", ThresholdName: "mql", EventID: "t2", CrossedAt: dayN(2)},
		{CrossingID: "x2", ContactID: "c2", Model: "engagement", ThresholdName: "mql", EventID: "t4", CrossedAt: dayN(1)},
	}
	enroll := []EnrollmentEvent{
		{EventID: "n1", ContactID: "c1", SequenceID: "S1", OwnerID: "O1", CrossingID: "x1", Kind: KindEnrolled, At: dayN(4)},
		{EventID: "n2", ContactID: "c1", SequenceID: "S1", Kind: KindReplied, At: dayN(5)},
		{EventID: "n3", ContactID: "c1", SequenceID: "S1", Kind: KindUnenrolled, Reason: "reply", At: dayN(5)},
		{EventID: "n4", ContactID: "c2", SequenceID: "S1", OwnerID: "O2", Kind: KindEnrolled, At: dayN(3)},
		{EventID: "n5", ContactID: "c2", SequenceID: "S1", Kind: KindMeetingBooked, At: dayN(4).Add(time.Hour)},
		{EventID: "n6", ContactID: "c2", SequenceID: "S1", Kind: KindUnenrolled, Reason: "meeting", At: dayN(4).Add(time.Hour)},
		{EventID: "n7", ContactID: "c3", SequenceID: "S2", OwnerID: "O1", Kind: KindEnrolled, At: dayN(2)},
		{EventID: "n8", ContactID: "c3", SequenceID: "S2", Kind: KindUnenrolled, Reason: "bounce", At: dayN(3)},
		// A reply in a sequence the bridge never enrolled: ignored.
		{EventID: "n9", ContactID: "c9", SequenceID: "S9", Kind: KindReplied, At: dayN(3)},
	}
	decs := []Decision{
		{DecisionID: "d2", CrossingID: "x1", ContactID: "c1", Model: "engagement", TargetKind: "sequence", TargetID: "S1", Sender: "ana@example.com", Outcome: "enrolled", DecidedAt: dayN(4)},
		{DecisionID: "d1", CrossingID: "x1", ContactID: "c1", Model: "engagement", TargetKind: "sequence", TargetID: "S1", Outcome: "held", Reason: "business_hours", DecidedAt: dayN(3)},
		// HubSpot's refusals carry its message; a workflow unenrolled to
		// make room is not a decision about a crossing.
		{DecisionID: "d3", CrossingID: "x2", ContactID: "c2", Model: "engagement", TargetKind: "sequence", TargetID: "S1", Outcome: "failed", Reason: "Contact is unsubscribed", DecidedAt: dayN(2)},
		{DecisionID: "d4", CrossingID: "x3", ContactID: "c3", Model: "engagement", TargetKind: "sequence", TargetID: "S2", Outcome: "failed", Reason: "Sender inbox not connected", DecidedAt: dayN(2)},
		{DecisionID: "d5", CrossingID: "x3", ContactID: "c3", Model: "engagement", TargetKind: "workflow", TargetID: "W1", Outcome: "workflow_unenrolled", DecidedAt: dayN(2)},
		{DecisionID: "d6", CrossingID: "x4", ContactID: "c4", Model: "intent", Outcome: "no_route", DecidedAt: dayN(2)},
	}
	calls := []APICall{{CallID: "a1", ContactID: "c1", CrossingID: "x1", Method: "POST", Path: "/automation/v4/sequences/enrollments", Status: 200, LatencyMS: 41, CorrelationID: "corr-1", At: dayN(4)}}
	for i := 0; i < 2; i++ {
		must(t, w.AddTouches(touches...))
		must(t, w.AddLedger(ledger...))
		must(t, w.AddCrossings(crossings...))
		must(t, w.AddEnrollmentEvents(enroll...))
		must(t, w.AddDecisions(decs...))
		must(t, w.AddAPICalls(calls...))
		must(t, w.Flush(context.Background()))
	}
}

func TestCadence(t *testing.T) {
	s := openTestStore(t)
	w := s.NewWriter(WriterOptions{})
	writeScenario(t, w)
	must(t, w.Close(context.Background()))
	checkCadence(t, s)
}

func checkCadence(t *testing.T, s *Store) {
	const d = 86400.0
	for _, tc := range []struct {
		by   string
		want []CadenceRow
	}{
		{"sequence", []CadenceRow{
			{Key: "S1", Enrolled: 2, Replied: 1, MeetingBooked: 1, Unenrolled: 2, UnenrolledByReason: map[string]int64{"reply": 1, "meeting": 1},
				TouchesBeforeEnrollment: 2, MedianCrossingToEnrollment: 2 * d, MedianEnrollmentToResponse: (d + d + 3600) / 2},
			{Key: "S2", Enrolled: 1, Unenrolled: 1, UnenrolledByReason: map[string]int64{"bounce": 1},
				TouchesBeforeEnrollment: 0, MedianCrossingToEnrollment: -1, MedianEnrollmentToResponse: -1},
		}},
		{"owner", []CadenceRow{
			{Key: "O1", Enrolled: 2, Replied: 1, Unenrolled: 2, UnenrolledByReason: map[string]int64{"reply": 1, "bounce": 1},
				TouchesBeforeEnrollment: 1.5, MedianCrossingToEnrollment: 2 * d, MedianEnrollmentToResponse: d},
			{Key: "O2", Enrolled: 1, MeetingBooked: 1, Unenrolled: 1, UnenrolledByReason: map[string]int64{"meeting": 1},
				TouchesBeforeEnrollment: 1, MedianCrossingToEnrollment: 2 * d, MedianEnrollmentToResponse: d + 3600},
		}},
	} {
		t.Run(tc.by, func(t *testing.T) {
			got, err := s.Cadence(context.Background(), CadenceQuery{By: tc.by})
			must(t, err)
			if !reflect.DeepEqual(got.Rows, tc.want) {
				t.Fatalf("cadence by %s:\n got %+v\nwant %+v", tc.by, got.Rows, tc.want)
			}
		})
	}
	// A window that excludes S2's enrollment (day 2).
	got, err := s.Cadence(context.Background(), CadenceQuery{By: "sequence", From: dayN(2.5)})
	must(t, err)
	if len(got.Rows) != 1 || got.Rows[0].Key != "S1" {
		t.Fatalf("cadence from day 2.5: %+v", got.Rows)
	}
}

func TestTimelineScoreDecisions(t *testing.T) {
	s := openTestStore(t)
	w := s.NewWriter(WriterOptions{})
	writeScenario(t, w)
	must(t, w.Close(context.Background()))
	checkTimelineScoreDecisions(t, s)
}

func checkTimelineScoreDecisions(t *testing.T, s *Store) {
	ctx := context.Background()

	score, err := s.Score(ctx, "c1", "engagement")
	must(t, err)
	if score != 16e6 { // 5 + 10 + 3 - 2 (total clamp), each row stored twice
		t.Fatalf("score = %d, want 16000000", score)
	}
	tl, err := s.Timeline(ctx, "c1")
	must(t, err)
	var got []string
	for _, e := range tl.Entries {
		got = append(got, e.EventID+" "+modelPoints(e.Delta, true)+" = "+modelPoints(e.ScoreAfter, false)+" "+strings.Join(e.Crossings, ","))
	}
	want := []string{
		"t1 engagement:+5 fit:+7.5 = engagement:5 fit:7.5 ",
		"t2 engagement:+10 = engagement:15 fit:7.5 engagement/mql",
		"t3 engagement:+1 = engagement:16 fit:7.5 ",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("timeline:\n got %q\nwant %q", got, want)
	}

	dr, err := s.Decisions(ctx, "c1")
	must(t, err)
	if len(dr.Decisions) != 2 || dr.Decisions[0].DecisionID != "d1" || dr.Decisions[0].Reason != "business_hours" || dr.Decisions[1].Outcome != "enrolled" {
		t.Fatalf("decisions: %+v", dr.Decisions)
	}
	ac, err := s.APICalls(ctx, "c1")
	must(t, err)
	if len(ac.Calls) != 1 || ac.Calls[0].Status != 200 || ac.Calls[0].CorrelationID != "corr-1" || !ac.Calls[0].At.Equal(dayN(4)) {
		t.Fatalf("api calls: %+v", ac.Calls)
	}
	if none, err := s.Timeline(ctx, "nobody' OR 1=1 --"); err != nil || len(none.Entries) != 0 {
		t.Fatalf("timeline of a hostile id: %v, %d entries", err, len(none.Entries))
	}
}

// RunReport is what `scorer report` calls: its output must be parseable
// and its errors must name every bad flag at once.
func TestRunReport(t *testing.T) {
	s := openTestStore(t)
	w := s.NewWriter(WriterOptions{})
	writeScenario(t, w)
	must(t, w.Close(context.Background()))
	checkRunReport(t, s)
}

func checkRunReport(t *testing.T, s *Store) {
	ctx := context.Background()
	run := func(args ...string) (string, error) {
		var b bytes.Buffer
		err := RunReport(ctx, s, args, &b)
		return b.String(), err
	}

	out, err := run("attribution", "--model", "u", "--conversion", "form_submit", "--by", "channel", "--format", "json")
	must(t, err)
	var rep struct {
		Rows []struct {
			Key         string  `json:"key"`
			Credit      float64 `json:"credit"`
			Conversions int64   `json:"conversions"`
		} `json:"rows"`
		NoTouch int64 `json:"conversions_without_touches"`
	}
	must(t, json.Unmarshal([]byte(out), &rep))
	// c1's form_submit at day 3 after web (day 1) and email (day 2): U with two touches is 50/50.
	if len(rep.Rows) != 2 || rep.Rows[0].Credit != 0.5 || rep.Rows[1].Credit != 0.5 || rep.Rows[0].Key != "email" || rep.NoTouch != 0 {
		t.Fatalf("attribution json: %s", out)
	}

	out, err = run("attribution", "--conversion", "form_submit", "--format", "csv")
	must(t, err)
	if out != "key,credit,conversions\nemail_click,0.5000,1\npage_view,0.5000,1\n" {
		t.Fatalf("csv: %q", out)
	}
	out, err = run("cadence", "--by", "owner")
	must(t, err)
	if !strings.Contains(out, "O1") || !strings.Contains(out, "bounce:1 reply:1") {
		t.Fatalf("cadence table:\n%s", out)
	}
	out, err = run("touches", "--contact", "c1", "--sql")
	must(t, err)
	if !strings.Contains(out, "FROM touches") || !strings.Contains(out, "engagement/mql") {
		t.Fatalf("touches:\n%s", out)
	}
	out, err = run("decisions", "--summary", "--format", "json")
	must(t, err)
	var sum DecisionSummaryReport
	must(t, json.Unmarshal([]byte(out), &sum))
	want := []DecisionCount{
		{Outcome: "failed:remote", TargetKind: "sequence", Crossings: 2, Example: sum.Rows[0].Example},
		{Outcome: "enrolled", TargetKind: "sequence", Crossings: 1},
		{Outcome: "no_route", Crossings: 1},
	}
	if !reflect.DeepEqual(sum.Rows, want) || sum.ExampleEnrolled != "c1" ||
		(sum.Rows[0].Example != "Contact is unsubscribed" && sum.Rows[0].Example != "Sender inbox not connected") {
		t.Fatalf("decision summary: %s", out)
	}
	out, err = run("decisions", "--summary")
	must(t, err)
	if !strings.Contains(out, "failed:remote  sequence  2          e.g. ") || !strings.Contains(out, "no_route       -         1") {
		t.Fatalf("decision summary table:\n%s", out)
	}
	for _, args := range [][]string{{"decisions"}, {"decisions", "--summary", "--contact", "c1"}, {"touches", "--summary"}} {
		if _, err := run(args...); err == nil {
			t.Errorf("RunReport(%q) accepted", args)
		}
	}
	_, err = run("attribution", "--model", "z", "--lookback", "ninety")
	if err == nil || !strings.Contains(err.Error(), "model") || !strings.Contains(err.Error(), "lookback") {
		t.Fatalf("bad flags error = %v, want both named", err)
	}
	for _, args := range [][]string{{"nope"}, {"touches"}, {"cadence", "--by", "color"}, {"attribution", "--format", "xml"}} {
		if _, err := run(args...); err == nil {
			t.Errorf("RunReport(%q) accepted", args)
		}
	}
}
