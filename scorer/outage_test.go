package scorer

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/analytics/analyticstest"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/internal/tcpcut"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/stream"
)

// metric is the sum of a series' samples in a /metrics text, e.g.
// `scorer_errors_total{kind="clickhouse"}`.
func metric(body, series string) float64 {
	sum := 0.0
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, series+" ") || strings.HasPrefix(line, series+"{") && !strings.Contains(series, "{") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum
}

// line is the first log line with this message, or "".
func (l *logBuffer) line(msg string) string {
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, `"message":"`+msg+`"`) {
			return line
		}
	}
	return ""
}

// committedLag is the group's lag as the broker sees it: end offsets less
// committed offsets, over every partition.
func (e *env) committedLag(ctx context.Context) (int64, error) {
	admin := stream.NewAdmin(e.brokers)
	defer admin.Close()
	ends, err := admin.EndOffsets(ctx, "events", partitions)
	if err != nil {
		return 0, err
	}
	committed, err := admin.CommittedOffsets(ctx, "scorer", "events", partitions)
	if err != nil {
		return 0, err
	}
	var lag int64
	for p, end := range ends {
		lag += end - max(0, committed[p])
	}
	return lag, nil
}

// A ClickHouse outage, met as an operator would: the scorer started while
// ClickHouse is down waits for it (it does not exit) and says so; during
// an outage under load it logs the failed inserts with their backoff,
// counts them, is not ready, reports the committed lag, and answers score
// reads from memory at once; afterwards nothing is lost; and a stop during
// an outage, even one where ClickHouse accepts connections and never
// answers, ends within a bounded time.
func TestServiceClickHouseOutage(t *testing.T) {
	direct, proxied, proxy := analyticstest.BehindProxy(t, "sb_outage")

	e, msgs := prepare(t, 120)
	half := len(msgs) / 2
	proxy.Set(tcpcut.Refuse)
	logs := &logBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Brokers: e.brokers, EventsTopic: "events", CrossingsTopic: "crossings", DLQTopic: "dlq",
			ChangelogTopic: "states", Group: "scorer", Rules: []string{"../testdata/rules"},
			ClickHouse: proxied, HTTP: "127.0.0.1:0", Log: zerolog.New(logs), Ready: func(a string) { addr <- a },
		})
	}()
	// Down at start: HTTP answers, not ready, waiting and counting.
	base := ""
	waitFor(t, "the scorer to wait for ClickHouse", func() (bool, error) {
		select {
		case err := <-done:
			return false, fmt.Errorf("Run returned while ClickHouse was down at start: %v", err)
		default:
		}
		if base == "" {
			line := logs.line("ClickHouse unavailable at start; waiting for it (scoring starts once it answers)")
			if line == "" {
				return false, nil
			}
			a := line[strings.Index(line, `"http":"`)+8:]
			base = "http://" + a[:strings.Index(a, `"`)]
		}
		code, body := get(t, base+"/readyz")
		_, m := get(t, base+"/metrics")
		return code == 503 && strings.Contains(body, "waiting for ClickHouse") &&
			metric(m, `scorer_errors_total{kind="clickhouse"}`) >= 2 && metric(m, "scorer_clickhouse_failing_seconds") > 0, nil
	})
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Errorf("healthz %d while waiting for ClickHouse", code)
	}
	proxy.Set(tcpcut.Up)
	select {
	case <-addr:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("not consuming 30 s after ClickHouse came back")
	}
	e.produce(t, msgs[:half])
	waitFor(t, "the first half committed", e.done(t))

	// An outage under load.
	proxy.Set(tcpcut.Refuse)
	e.produce(t, msgs[half:])
	waitFor(t, "the outage to show", func() (bool, error) {
		code, body := get(t, base+"/readyz")
		_, m := get(t, base+"/metrics")
		lag, err := e.committedLag(ctx)
		if err != nil {
			return false, err
		}
		return code == 503 && strings.Contains(body, "ClickHouse failing") &&
			metric(m, `scorer_errors_total{kind="clickhouse"}`) > 2 && metric(m, "scorer_clickhouse_failing_seconds") > 0 &&
			metric(m, "scorer_clickhouse_buffered_rows") > 0 &&
			lag > 0 && metric(m, "scorer_consumer_lag") == float64(lag), nil
	})
	if logs.count("ClickHouse insert failed; retrying") == 0 || !strings.Contains(logs.line("ClickHouse insert failed; retrying"), `"retry_in"`) {
		t.Error("no log line with the backoff for the failed inserts")
	}
	// A score read answers from memory while ClickHouse still refuses:
	// the writer retries without end during an outage, so a read that
	// waited for it would not answer before the outage ends. The deadline
	// is far above scheduling noise (a 500 ms bound is not, under -race on
	// a loaded two-core machine), and the outage is shown to last past
	// the answer.
	contact := e.events[0].ContactID
	start := time.Now()
	code, body := getWithin(t, base+"/contacts/"+contact+"/score?model=engagement", 10*time.Second)
	took := time.Since(start)
	if code != 200 {
		t.Errorf("score read during the outage: %d in %v: %s", code, took, body)
	}
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, "ClickHouse failing") {
		t.Errorf("readyz %d %q after the score read: the outage must last past the read for it to show anything", code, body)
	}
	t.Logf("score read during the outage answered in %v", took.Round(time.Millisecond))

	proxy.Set(tcpcut.Up)
	waitFor(t, "everything committed after the outage", e.done(t))
	waitFor(t, "ready again", func() (bool, error) {
		code, _ := get(t, base+"/readyz")
		_, m := get(t, base+"/metrics")
		return code == 200 && metric(m, "scorer_clickhouse_failing_seconds") == 0, nil
	})

	// An outage with no traffic shows too (the writer's idle ping), and
	// clears when ClickHouse answers.
	proxy.Set(tcpcut.Refuse)
	waitFor(t, "the idle outage to show", func() (bool, error) {
		code, body := get(t, base+"/readyz")
		_, m := get(t, base+"/metrics")
		return code == 503 && strings.Contains(body, "ClickHouse failing") && strings.Contains(body, "ping") &&
			metric(m, "scorer_clickhouse_failing_seconds") > 0 &&
			logs.count("ClickHouse does not answer (idle ping); retrying") > 0, nil
	})
	proxy.Set(tcpcut.Up)
	waitFor(t, "ready again after the idle outage", func() (bool, error) {
		code, _ := get(t, base+"/readyz")
		_, m := get(t, base+"/metrics")
		return code == 200 && metric(m, "scorer_clickhouse_failing_seconds") == 0, nil
	})

	store, err := analytics.Open(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// Every valid event is a touch, duplicates (same id) once.
	stored := map[string]bool{}
	if err := store.History(ctx, func(ev events.Event) error { stored[ev.ID] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, ev := range e.events {
		ids[ev.ID] = true
	}
	for id := range ids {
		if !stored[id] {
			t.Errorf("event %s has no touch in ClickHouse: lost in the outage", id)
		}
	}
	if len(stored) != len(ids) {
		t.Errorf("%d distinct touches in ClickHouse, %d distinct events", len(stored), len(ids))
	}

	// Stop during an outage where ClickHouse hangs, with new events in
	// flight: bounded.
	late := e.lateEvents(t, 60)
	e.produce(t, late)
	proxy.Set(tcpcut.Hang)
	waitFor(t, "the late events read and waiting for ClickHouse", func() (bool, error) {
		_, m := get(t, base+"/metrics")
		return metric(m, "scorer_clickhouse_buffered_rows") > 0, nil
	})
	start = time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("stop during an outage: %v", err)
		}
		t.Logf("stopped %v after the cancel, ClickHouse hanging", time.Since(start).Round(time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return within 20 s of the cancel while ClickHouse hangs")
	}
	if lag, err := e.committedLag(context.Background()); err != nil || lag == 0 {
		t.Fatalf("committed lag %d (%v) after a stop during the outage: the late events' offsets must not be committed", lag, err)
	}

	// Restarted once ClickHouse is back, it scores what was not committed.
	proxy.Set(tcpcut.Up)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go func() {
		done <- Run(ctx, Options{
			Brokers: e.brokers, EventsTopic: "events", CrossingsTopic: "crossings", DLQTopic: "dlq",
			ChangelogTopic: "states", Group: "scorer", Rules: []string{"../testdata/rules"},
			ClickHouse: proxied, HTTP: "127.0.0.1:0", Log: zerolog.Nop(),
		})
	}()
	waitFor(t, "everything committed after the restart", e.done(t))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkAgainstBacktest(t, e)
}

// lateEvents adds n new events (copies of existing ones under new ids,
// after every other) to the history the backtest reads, and returns them
// as messages.
func (e *env) lateEvents(t *testing.T, n int) []stream.Record {
	var last time.Time
	for _, ev := range e.events {
		if ev.OccurredAt.After(last) {
			last = ev.OccurredAt
		}
	}
	var out []stream.Record
	for i := 0; i < n; i++ {
		ev := e.events[20+i]
		ev.ID += "-late"
		ev.OccurredAt = last.Add(time.Duration(i+1) * time.Second)
		data, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		e.events = append(e.events, ev)
		e.raw = append(append(e.raw, data...), '\n')
		out = append(out, stream.Message(ev.ContactID, data))
	}
	return out
}

// A ClickHouse outage with company models: company_scores rows go through
// the same buffering writer as the touch history, so the company group
// waits for ClickHouse (its offsets not committed) instead of stopping the
// scorer, and afterwards no row is lost. During an outage the contact
// group waits at its history step, before it writes company changes: the
// changes that reach the company group meanwhile are written to the
// company topic by the test, as the contact group writes them.
func TestServiceCompaniesClickHouseOutage(t *testing.T) {
	direct, proxied, proxy := analyticstest.BehindProxy(t, "sb_companies")
	set, err := rules.Load("../testdata/rules-accounts")
	if err != nil {
		t.Fatal(err)
	}
	e := setup(t, 60)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := serve(t, ctx, Options{
		Brokers: e.brokers, EventsTopic: "events", CrossingsTopic: "crossings", DLQTopic: "dlq",
		ChangelogTopic: "states", Group: "scorer", Rules: []string{"../testdata/rules-accounts"},
		ClickHouse: proxied, HTTP: "127.0.0.1:0", Log: zerolog.Nop(),
	})
	base := "http://" + addr
	running := func(what string) {
		t.Helper()
		select {
		case err := <-done:
			t.Fatalf("%s: the scorer stopped: %v", what, err)
		default:
		}
	}
	bothCommitted := func() (bool, error) {
		running("waiting for both groups")
		for _, g := range [][2]string{{"scorer", "events"}, {"scorer-companies", "events-companies"}} {
			if ok, err := committedTo(ctx, e.brokers, g[0], g[1]); err != nil || !ok {
				return false, nil
			}
		}
		return true, nil
	}
	waitFor(t, "the events committed by both groups", bothCommitted)

	proxy.Set(tcpcut.Refuse)
	// 40 new contacts at 8 new companies, each with a score of 10 and a
	// role: changes as the contact group sends them.
	var changes []stream.Record
	outage := map[string][]*accounts.Member{}
	roles := []string{"champion", "economic_buyer", "technical_evaluator", "intern"}
	for i := range 40 {
		co := fmt.Sprintf("outage-co%d", i%8)
		ch := accounts.Change{To: co, Member: accounts.Member{ContactID: fmt.Sprintf("outage-c%d", i), CompanyID: co, Seq: 1,
			Scores: map[string]rules.Points{"engagement": 10 * rules.Scale}, Props: map[string]string{"job_role": roles[i%4]}},
			EventID: fmt.Sprintf("outage-e%d", i), At: time.Now().UTC()}
		outage[co] = append(outage[co], &ch.Member)
		data, _ := json.Marshal(&ch)
		changes = append(changes, stream.Message(co, data))
	}
	if err := producer(t, e.brokers, "events-companies").Write(ctxFor(t, 10*time.Second), changes...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the company group to wait for ClickHouse", func() (bool, error) {
		running("the outage")
		_, m := get(t, base+"/metrics")
		companies, err := committedTo(ctx, e.brokers, "scorer-companies", "events-companies")
		return !companies && err == nil && metric(m, "scorer_clickhouse_buffered_rows") > 0 &&
			metric(m, "scorer_clickhouse_failing_seconds") > 2, nil
	})
	running("an outage of more than two seconds")
	proxy.Set(tcpcut.Up)
	waitFor(t, "both groups committed after the outage", bothCommitted)

	var valid []events.Event
	for _, ev := range e.events {
		if ev.ID != "" {
			valid = append(valid, ev)
		}
	}
	want := accounts.Companies(set, valid)
	for co, members := range outage {
		want = append(want, accounts.Evaluate(set.Company("account_engagement"), co, members))
	}
	store, err := analytics.Open(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	checked := 0
	for _, w := range want {
		got, ok, err := store.CompanyScore(ctx, w.CompanyID, w.Model)
		if err != nil {
			t.Fatal(err)
		}
		if w.Score != 0 && (!ok || got != int64(w.Score)) {
			t.Errorf("company_scores %s %s: %d (%v), want %d: a row lost in the outage", w.CompanyID, w.Model, got, ok, w.Score)
		}
		checked++
	}
	t.Logf("%d company scores checked, %d of companies changed during the outage", checked, len(outage))
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stop: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no stop")
	}
}
