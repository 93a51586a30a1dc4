package bridge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/enrollment"
)

// sameDecisions are a contact's decisions as the bridge makes them: times
// with nanoseconds, two in the same microsecond, a held one with its
// release time and an enrollment with its target.
func sameDecisions(contact string) []enrollment.Decision {
	t0 := time.Date(2026, 11, 2, 14, 0, 0, 123456789, time.UTC)
	seq := &enrollment.Target{Kind: enrollment.TargetSequence, ID: "9001"}
	base := enrollment.Decision{CrossingID: "x-" + contact, ContactID: contact, CompanyID: "co-1", Model: "engagement",
		ThresholdName: "mql", Score: 52, OwnerID: "u-1", SenderEmail: "ana@example.com"}
	held, enrolled, suppressed, excluded := base, base, base, base
	held.Kind, held.Reason, held.Outcome, held.Stage = enrollment.KindHeld, "business_hours", "held:business_hours", "hours"
	held.Target, held.NotBefore, held.DecidedAt = seq, t0.Add(3*time.Hour), t0
	enrolled.Kind, enrolled.Outcome, enrolled.Target, enrolled.EnrollmentID = enrollment.KindEnrolled, "enrolled", seq, "e-77"
	enrolled.DecidedAt = t0.Add(3 * time.Hour)
	suppressed.CrossingID, suppressed.Kind, suppressed.Reason = "y-"+contact, enrollment.KindSuppressed, "lifecycle_stage"
	suppressed.Outcome, suppressed.Detail, suppressed.DecidedAt = "suppressed:lifecycle_stage", "customer", t0.Add(5*time.Hour+1)
	excluded.CrossingID, excluded.Kind, excluded.Reason = "z-"+contact, enrollment.KindExcluded, "conflicting_sequence"
	excluded.Outcome, excluded.InSequence, excluded.DecidedAt = "excluded:conflicting_sequence", "9002", t0.Add(5*time.Hour+200)
	return []enrollment.Decision{enrolled, held, excluded, suppressed}
}

func getDecisions(t *testing.T, h http.HandlerFunc, contact string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest(http.MethodGet, "/decisions?contact_id="+url.QueryEscape(contact), nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET /decisions: %d %s: %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	return rec.Body.String()
}

// Without ClickHouse, /decisions answers from the local audit in the
// analytics shape: outcome and reason apart, the ClickHouse field names.
func TestDecisionsLocalShape(t *testing.T) {
	const contact = "c-shape"
	body := getDecisions(t, decisionsFrom(nil, localAudit(t, sameDecisions(contact))), contact)
	var raw struct {
		ContactID string           `json:"contact_id"`
		Source    string           `json:"source"`
		Decisions []map[string]any `json:"decisions"`
	}
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	if raw.ContactID != contact || raw.Source != "local" || len(raw.Decisions) != 4 {
		t.Fatalf("answer: %s", body)
	}
	want := []string{"company_id", "contact_id", "crossing_id", "decided_at", "decision_id", "detail", "model",
		"outcome", "reason", "sender", "target_id", "target_kind"}
	var got [][]string
	for _, d := range raw.Decisions {
		keys := make([]string, 0, len(d))
		for k := range d {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, want) {
			t.Fatalf("decision fields %v, want %v", keys, want)
		}
		got = append(got, []string{d["outcome"].(string), d["reason"].(string), d["target_id"].(string), d["decided_at"].(string)})
	}
	// Oldest first; times at the microsecond, in UTC.
	wantRows := [][]string{
		{"held", "business_hours", "9001", "2026-11-02T14:00:00.123456Z"},
		{"enrolled", "", "9001", "2026-11-02T17:00:00.123456Z"},
		{"", "", "", ""}, {"", "", "", ""}, // the two in the same microsecond: order checked below
	}
	if !reflect.DeepEqual(got[:2], wantRows[:2]) {
		t.Fatalf("decisions:\n got %v\nwant %v", got, wantRows)
	}
	last := []string{got[2][0] + ":" + got[2][1], got[3][0] + ":" + got[3][1]}
	slices.Sort(last)
	if !slices.Equal(last, []string{"excluded:conflicting_sequence", "suppressed:lifecycle_stage"}) ||
		got[2][3] != "2026-11-02T19:00:00.123456Z" || got[3][3] != got[2][3] ||
		raw.Decisions[2]["decision_id"].(string) > raw.Decisions[3]["decision_id"].(string) {
		t.Fatalf("same-microsecond decisions not ordered by decision id: %s", body)
	}
	var rows decisionsAnswer
	if err := json.Unmarshal([]byte(body), &rows); err != nil {
		t.Fatal(err)
	}
	if d := rows.Decisions[0]; !strings.Contains(d.Detail, `"not_before":"2026-11-02T17:00:00.123456789Z"`) || d.Sender != "ana@example.com" || d.TargetKind != "sequence" {
		t.Fatalf("held decision: %+v", d)
	}
}

// The same decisions answer the same JSON from ClickHouse and from the
// local audit, byte for byte but for "source".
func TestDecisionsSameFromBothAudits(t *testing.T) {
	dsn := os.Getenv("CLICKHOUSE_DSN")
	if dsn == "" {
		t.Skip("CLICKHOUSE_DSN not set: the ClickHouse side is not compared (scripts/clickhouse.sh starts a local server)")
	}
	const contact = "c-both"
	ds := sameDecisions(contact)
	ch := testClickHouse(t, dsn)
	w := ch.NewWriter(analytics.WriterOptions{})
	if err := (enrollment.AnalyticsRecorder{W: w}).RecordDecisions(ctxFor(t, 10*time.Second), ds); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	fromCH := getDecisions(t, decisionsFrom(ch, nil), contact)
	fromLocal := getDecisions(t, decisionsFrom(nil, localAudit(t, ds)), contact)
	if !strings.Contains(fromCH, `"source":"clickhouse"`) || !strings.Contains(fromLocal, `"source":"local"`) {
		t.Fatalf("sources:\n%s\n%s", fromCH, fromLocal)
	}
	if a, b := strings.Replace(fromCH, `"source":"clickhouse"`, `"source":"local"`, 1), fromLocal; a != b {
		t.Fatalf("answers differ:\nclickhouse %s\nlocal      %s", a, b)
	}
}

func localAudit(t *testing.T, ds []enrollment.Decision) *enrollment.LocalAudit {
	t.Helper()
	st, err := enrollment.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	a, err := enrollment.NewLocalAudit(st)
	if err != nil {
		t.Fatal(err)
	}
	// Recorded one at a time, in an order other than time's.
	for _, d := range ds {
		if err := a.RecordDecisions(context.Background(), []enrollment.Decision{d}); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// testClickHouse opens a database of its own on the server, dropped at the end.
func testClickHouse(t *testing.T, dsn string) *analytics.Store {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("CLICKHOUSE_DSN: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	u.Path = "/sb_test_bridge_" + hex.EncodeToString(b)
	s, err := analytics.Open(ctxFor(t, 30*time.Second), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.DropDatabase(ctx); err != nil {
			t.Errorf("dropping %s: %v", s.Database(), err)
		}
		s.Close()
	})
	return s
}

// A contact id too long to be one answers 400 with the bridge's own
// message, from either audit, never the database's error text.
func TestDecisionsLongContactID(t *testing.T) {
	handlers := map[string]http.HandlerFunc{"local": decisionsFrom(nil, localAudit(t, sameDecisions("c-long")))}
	if dsn := os.Getenv("CLICKHOUSE_DSN"); dsn != "" {
		handlers["clickhouse"] = decisionsFrom(testClickHouse(t, dsn), nil)
	}
	long := strings.Repeat("x", 300_000)
	for name, h := range handlers {
		rec := httptest.NewRecorder()
		h(rec, httptest.NewRequest(http.MethodGet, "/decisions?contact_id="+long, nil))
		body := rec.Body.String()
		if rec.Code != http.StatusBadRequest || !strings.Contains(body, "contact_id is 300000 bytes long; at most 1024") ||
			strings.Contains(body, "DB::Exception") || strings.Contains(body, "Code:") {
			t.Errorf("%s: %d %.300s", name, rec.Code, body)
		}
	}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
