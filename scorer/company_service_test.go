package scorer

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
)

// scorer run with company models: the company group runs beside the
// contact group; GET /companies/{id}/score answers the reference; with
// ClickHouse, company_scores holds the same latest score; company
// crossings reach the crossings topic.
func TestServiceCompanies(t *testing.T) {
	e := setup(t, 60)
	set, err := rules.Load("../testdata/rules-accounts")
	if err != nil {
		t.Fatal(err)
	}
	dsn := ""
	if base := os.Getenv("CLICKHOUSE_DSN"); base != "" {
		dsn = uniqueDSN(t, base)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := serve(t, ctx, Options{
		Brokers: e.brokers, EventsTopic: "events", CrossingsTopic: "crossings", DLQTopic: "dlq",
		ChangelogTopic: "states", Group: "scorer", Rules: []string{"../testdata/rules-accounts"},
		HTTP: "127.0.0.1:0", Log: zerolog.Nop(), ClickHouse: dsn,
		CompanyScoresTopic: "company-scores",
	})
	base := "http://" + addr
	wait := ctxFor(t, 90*time.Second)
	for _, g := range [][2]string{{"scorer", "events"}, {"scorer-companies", "events-companies"}} {
		for {
			if ok, err := committedTo(wait, e.brokers, g[0], g[1]); err == nil && ok {
				break
			}
			if wait.Err() != nil {
				t.Fatalf("group %s never caught up", g[0])
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	var valid []events.Event
	for _, ev := range e.events {
		if ev.ID != "" {
			valid = append(valid, ev)
		}
	}
	want := accounts.Companies(set, valid)
	if len(want) == 0 {
		t.Fatal("the history names no company")
	}
	checked := 0
	for _, w := range want[:min(len(want), 15)] {
		code, body := get(t, base+"/companies/"+w.CompanyID+"/score?model="+w.Model)
		var got CompanyLine
		if code != 200 || json.Unmarshal([]byte(body), &got) != nil || got.Score != rules.Float(w.Score) || len(got.Contacts) != len(w.Contacts) {
			t.Errorf("%s: %d %s; reference %+v", w.CompanyID, code, body, w)
		}
		checked++
	}
	if code, body := get(t, base+"/companies/nosuch/score?model=account_engagement"); code != 404 || !strings.Contains(body, "not held") {
		t.Errorf("unknown company: %d %s", code, body)
	}
	if code, body := get(t, base+"/companies/x/score?model=nosuch"); code != 404 || !strings.Contains(body, "no company model") {
		t.Errorf("unknown model: %d %s", code, body)
	}
	companyCrossings := 0
	for _, m := range readTopic(t, e.brokers, "crossings", partitions) {
		if x, err := events.DecodeCrossing(m.Value); err == nil && x.Level == events.LevelCompany {
			companyCrossings++
		}
	}
	if companyCrossings == 0 {
		t.Error("no company crossing on the crossings topic")
	}
	checkCompanyScores(t, set, valid, readTopic(t, e.brokers, "events-companies", partitions), readTopic(t, e.brokers, "company-scores", partitions), true)
	if dsn != "" {
		store, err := analytics.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		for _, w := range want[:min(len(want), 15)] {
			got, ok, err := store.CompanyScore(context.Background(), w.CompanyID, w.Model)
			if w.Score != 0 && (err != nil || !ok || got != int64(w.Score)) {
				t.Errorf("company_scores %s: %d %v %v, want %d", w.CompanyID, got, ok, err, w.Score)
			}
		}
	}
	t.Logf("%d companies checked over HTTP, %d company crossings", checked, companyCrossings)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("graceful stop: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no graceful stop")
	}
}

// uniqueDSN is base with a database of this test's own, dropped after it.
func uniqueDSN(t *testing.T, base string) string {
	i := strings.LastIndex(base, "/")
	dsn := base[:i+1] + fmt.Sprintf("sb_companies_%d", rand.Uint32())
	t.Cleanup(func() {
		if s, err := analytics.Open(context.Background(), dsn); err == nil {
			s.DropDatabase(context.Background())
			s.Close()
		}
	})
	return dsn
}
