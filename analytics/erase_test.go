package analytics

import (
	"context"
	"strings"
	"testing"
	"time"
)

// addContactRows stores one row of the contact in every table that holds
// contacts, and an api_calls row of a batch call about it and others.
func addContactRows(t *testing.T, s *Store, id string, others ...string) {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	w := s.NewWriter(WriterOptions{})
	defer w.Close(ctx)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.AddTouches(Touch{EventID: "e-" + id, ContactID: id, Type: "email_opened", OccurredAt: at, Contact: `{"email":"` + id + `@example.com"}`}))
	must(w.AddLedger(LedgerRow{ContactID: id, Model: "engagement", EventID: "e-" + id, Group: "email", Points: 5, Delta: 5, OccurredAt: at}))
	must(w.AddCrossings(CrossingRow{CrossingID: "x-" + id, ContactID: id, Model: "engagement", ThresholdName: "sales", CrossedAt: at, EventID: "e-" + id}))
	must(w.AddDecisions(Decision{DecisionID: "d-" + id, CrossingID: "x-" + id, ContactID: id, Outcome: "enrolled", DecidedAt: at}))
	must(w.AddEnrollmentEvents(EnrollmentEvent{EventID: "n-" + id, ContactID: id, Kind: KindEnrolled, At: at}))
	must(w.AddAPICalls(APICall{CallID: "c-" + id, ContactID: id, Method: "POST", Path: "/automation/v4/sequences/enrollments", RequestBody: `{"contactId":"` + id + `"}`, At: at}))
	ids := append([]string{id}, others...)
	var in []string
	for _, x := range ids {
		in = append(in, `{"id":"`+x+`","properties":{"scorebridge_engagement_score":"5"}}`)
	}
	must(w.AddAPICalls(APICall{CallID: "batch-" + id, Method: "POST", Path: "/crm/v3/objects/contacts/batch/update",
		RequestBody: `{"inputs":[` + strings.Join(in, ",") + `]}`, ResponseBody: `{"errors":[{"context":{"ids":["` + id + `"]}}]}`, At: at}))
	must(w.Flush(ctx))
	must(s.AddCompanyScores(ctx, CompanyScoreRow{CompanyID: "acme-" + id, Model: "account_engagement", Score: 5e6, Rollup: 5e6, Members: 1,
		ContactID: id, EventID: "ev-" + id, ChangedAt: at}))
	must(s.InsertWriteback(ctx, []WritebackRow{{ContactID: id, Properties: `{"scorebridge_engagement_score":"5"}`, Result: "ok", ScoresAt: at, WrittenAt: at}}))
}

// A privacy deletion leaves no row of the contact in any table, and no
// trace of its id in the bodies of calls about several contacts, while
// the other contacts' rows stay.
func TestEraseContacts(t *testing.T) {
	s := openTestStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	addContactRows(t, s, "9301", "9302")
	addContactRows(t, s, "9302")
	addContactRows(t, s, "9303")
	before, err := s.ContactRows(ctx, "9301")
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range ContactTables {
		if before[table] == 0 {
			t.Fatalf("no row of 9301 in %s before the erasure: the test would check nothing", table)
		}
	}
	if err := s.EraseContacts(ctx, "9301", "9303"); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitMutations(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"9301", "9303"} {
		left, err := s.ContactRows(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for table, n := range left {
			if n != 0 {
				t.Errorf("%d rows of %s left in %s", n, id, table)
			}
		}
	}
	kept, err := s.ContactRows(ctx, "9302")
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range ContactTables {
		if kept[table] == 0 {
			t.Errorf("the other contact's rows in %s were erased too", table)
		}
	}
	// The batch call about 9301 and 9302 is still audited, with 9301's id erased.
	if n := countRows(t, s, `SELECT count() FROM api_calls WHERE call_id = 'batch-9301' AND position(request_body, '"id":"erased"') > 0 AND position(request_body, '"9302"') > 0`); n != 1 {
		t.Errorf("the batch call's row: %d rows with the id erased and the other kept", n)
	}
	// Erasing again is harmless.
	if err := s.EraseContacts(ctx, "9301"); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitMutations(ctx); err != nil {
		t.Fatal(err)
	}
}
