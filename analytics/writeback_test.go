package analytics

import (
	"context"
	"testing"
	"time"
)

// What the write-back wrote for a contact is one query, in write order.
func TestWriteback(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	rows := []WritebackRow{
		{ContactID: "c-1", Properties: `{"scorebridge_engagement_score":"44"}`, Result: "ok", RuleVersion: "v1", ScoresAt: t0, WrittenAt: t0.Add(2 * time.Second)},
		{ContactID: "c-2", Properties: `{"scorebridge_engagement_score":"3"}`, Result: "failed", Error: "OBJECT_NOT_FOUND: deleted", RuleVersion: "v1", ScoresAt: t0, WrittenAt: t0.Add(2 * time.Second)},
		{ContactID: "c-1", Properties: `{"scorebridge_engagement_score":"50"}`, Result: "ok", RuleVersion: "v1", ScoresAt: t0.Add(time.Minute), WrittenAt: t0.Add(time.Minute + 1500*time.Millisecond)},
	}
	if err := s.InsertWriteback(ctx, rows); err != nil {
		t.Fatal(err)
	}
	got, err := s.Writeback(ctx, "c-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Properties != rows[0].Properties || got[1].Properties != rows[2].Properties ||
		!got[1].WrittenAt.Equal(rows[2].WrittenAt) || !got[1].ScoresAt.Equal(rows[2].ScoresAt) || got[0].Result != "ok" {
		t.Fatalf("c-1: %+v", got)
	}
	// A company's rows are apart from a contact's of the same id.
	if err := s.InsertWriteback(ctx, []WritebackRow{{Object: "companies", ContactID: "c-1", Properties: `{"scorebridge_acct_score":"95"}`, Result: "ok", ScoresAt: t0, WrittenAt: t0}}); err != nil {
		t.Fatal(err)
	}
	if again, err := s.Writeback(ctx, "c-1"); err != nil || len(again) != 2 {
		t.Fatalf("contact c-1 after a company write: %+v, %v", again, err)
	}
	co, err := s.WritebackOf(ctx, "companies", "c-1")
	if err != nil || len(co) != 1 || co[0].Object != "companies" || co[0].Properties != `{"scorebridge_acct_score":"95"}` {
		t.Fatalf("company c-1: %+v, %v", co, err)
	}
	failed, err := s.Writeback(ctx, "c-2")
	if err != nil || len(failed) != 1 || failed[0].Result != "failed" || failed[0].Error != rows[1].Error {
		t.Fatalf("c-2: %+v, %v", failed, err)
	}
}
