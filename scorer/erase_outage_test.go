package scorer

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/internal/tcpcut"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/stream"
)

// eraseFailing is the warning of an erasure waiting for ClickHouse.
const eraseFailing = "ClickHouse erasure failed; retrying: the deletion's batch waits, its offset not committed"

// erasureWaits waits until the scorer shows an erasure waiting for
// ClickHouse as an operator sees it: still running, not ready, the
// failures counted and logged with their backoff, the outage lasting past
// two seconds, and the deletion's offset not committed (committed says
// whether it is).
func erasureWaits(t *testing.T, base string, logs *logBuffer, done <-chan error, committed func() (bool, error)) {
	t.Helper()
	errors0 := -1.0
	waitFor(t, "the erasure to wait for ClickHouse", func() (bool, error) {
		select {
		case err := <-done:
			return false, fmt.Errorf("the scorer stopped on a privacy deletion during a ClickHouse outage: %v", err)
		default:
		}
		code, body := get(t, base+"/readyz")
		_, m := get(t, base+"/metrics")
		errs := metric(m, `scorer_errors_total{kind="clickhouse"}`)
		if errors0 < 0 {
			errors0 = errs
		}
		done, err := committed()
		if err != nil {
			return false, err
		}
		line := logs.line(eraseFailing)
		return code == 503 && strings.Contains(body, "ClickHouse failing") && strings.Contains(body, "erasing a privacy deletion") && errs >= errors0+2 &&
			metric(m, "scorer_clickhouse_failing_seconds") > 2 && !done &&
			strings.Contains(line, `"retry_in"`), nil
	})
}

// stopWithin cancels the scorer while an erasure waits and ClickHouse
// hangs, and waits for Run to return, within d.
func stopWithin(t *testing.T, cancel context.CancelFunc, done <-chan error, d time.Duration) {
	t.Helper()
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("stop while an erasure waits for ClickHouse: %v", err)
		}
		t.Logf("stopped %v after the cancel, an erasure waiting and ClickHouse hanging", time.Since(start).Round(time.Millisecond))
	case <-time.After(d):
		t.Fatalf("Run did not return within %v of the cancel while an erasure waits and ClickHouse hangs", d)
	}
}

// A privacy deletion read while ClickHouse is down does not stop the
// scorer: its erasure waits, retrying with backoff, the scorer not ready
// and saying why, and the deletion's offset is not committed; once
// ClickHouse is back the contact's rows are erased and the offset
// committed. A stop while an erasure waits (ClickHouse hanging) returns
// within a bound without committing the deletion, which the next start
// erases.
func TestServicePrivacyDeletionClickHouseOutage(t *testing.T) {
	fe := newForgetEnv(t)
	proxy, proxied := tcpcut.Through(t, fe.dsn)
	logs := &logBuffer{}
	opts := Options{
		Brokers: fe.brokers, EventsTopic: "events", CrossingsTopic: "crossings", DLQTopic: "dlq",
		ChangelogTopic: "states", ScoresTopic: "lead-scores", Group: "scorer", Rules: []string{"../testdata/rules"},
		ClickHouse: proxied, HTTP: "127.0.0.1:0", Log: zerolog.New(logs),
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := serve(t, ctx, opts)
	base := "http://" + addr
	for _, c := range []string{"9701", "9702", "9703"} {
		fe.produce(t, c, "call_started", 0, call(0))
		fe.produce(t, c, "meeting_booked", 1, nil)
	}
	for _, c := range []string{"9701", "9702", "9703"} {
		waitScore(t, base, c, 200)
	}
	fe.waitCaughtUp(t)
	check := analyticsCtx(t)
	for _, c := range []string{"9701", "9702", "9703"} {
		if rows, err := fe.store.ContactRows(check, c); err != nil || rows["touches"] == 0 {
			t.Fatalf("no touch of %s before its deletion (%v): the test would check nothing", c, err)
		}
	}
	caughtUp := func() (bool, error) {
		admin := stream.NewAdmin(fe.brokers)
		defer admin.Close()
		return admin.CaughtUp(ctxFor(t, 10*time.Second), "scorer", "events", partitions)
	}

	proxy.Set(tcpcut.Refuse)
	fe.send(t, events.Event{ID: "webhook-9701", Type: TypePrivacyDeleted, ContactID: "9701", OccurredAt: fe.at.Add(5 * time.Minute)})
	erasureWaits(t, base, logs, done, caughtUp)

	proxy.Set(tcpcut.Up)
	fe.waitCaughtUp(t)
	waitFor(t, "ready again", func() (bool, error) {
		code, _ := get(t, base+"/readyz")
		_, m := get(t, base+"/metrics")
		return code == 200 && metric(m, "scorer_clickhouse_failing_seconds") == 0, nil
	})
	if logs.count("ClickHouse erasure succeeded after retries") == 0 {
		t.Error("no line saying the erasure succeeded after the outage")
	}
	erased(t, fe.store, "9701")
	waitMarkers(t, fe.brokers, "9701")

	// A stop while an erasure waits and ClickHouse hangs: bounded, and
	// the deletion is not committed.
	errs := logs.count(eraseFailing)
	proxy.Set(tcpcut.Refuse)
	fe.send(t, events.Event{ID: "webhook-9702", Type: TypePrivacyDeleted, ContactID: "9702", OccurredAt: fe.at.Add(6 * time.Minute)})
	waitFor(t, "the second erasure to wait", func() (bool, error) { return logs.count(eraseFailing) > errs, nil })
	proxy.Set(tcpcut.Hang)
	stopWithin(t, cancel, done, 20*time.Second)
	if ok, err := caughtUp(); err != nil || ok {
		t.Fatalf("every partition committed to its end (%v) after a stop while the deletion's erasure waited", err)
	}

	// Restarted with ClickHouse back, the scorer replays the deletion and
	// erases.
	proxy.Set(tcpcut.Up)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	opts.Log = zerolog.Nop()
	_, done = serve(t, ctx, opts)
	fe.waitCaughtUp(t)
	erased(t, fe.store, "9702")
	if rows, err := fe.store.ContactRows(check, "9703"); err != nil || rows["touches"] == 0 || rows["crossings"] == 0 {
		t.Errorf("9703, never deleted, lost rows: %v %v", rows, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func analyticsCtx(t *testing.T) context.Context { return ctxFor(t, 2*time.Minute) }

// erased checks that no row of the contact is left in ClickHouse once
// its mutations ran.
func erased(t *testing.T, store *analytics.Store, contact string) {
	t.Helper()
	ctx := analyticsCtx(t)
	if err := store.WaitMutations(ctx); err != nil {
		t.Fatal(err)
	}
	left, err := store.ContactRows(ctx, contact)
	if err != nil {
		t.Fatal(err)
	}
	for table, n := range left {
		if n != 0 {
			t.Errorf("%d rows of %s left in %s after its privacy deletion", n, contact, table)
		}
	}
}

// The company side: a privacy deletion reaching a company model while
// ClickHouse is down does not stop the scorer either. The contact (its
// engagement fallen below the model's min_contact_score) leaves its
// company without moving its score, so the company group's batch stores
// no company_scores row and goes straight to erasing the rows the
// contact caused earlier: that erasure waits for ClickHouse, the group's
// offset not committed, and once ClickHouse is back the rows are gone.
// A stop while it waits, ClickHouse hanging, is bounded. As in
// TestServiceCompaniesClickHouseOutage the changes are written to the
// company topic by the test, as the contact group writes them (which
// waits at its own erasure during the outage).
func TestServiceCompaniesPrivacyDeletionClickHouseOutage(t *testing.T) {
	fe := newForgetEnv(t)
	proxy, proxied := tcpcut.Through(t, fe.dsn)
	logs := &logBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := serve(t, ctx, Options{
		Brokers: fe.brokers, EventsTopic: "events", CrossingsTopic: "crossings", DLQTopic: "dlq",
		ChangelogTopic: "states", Group: "scorer", Rules: []string{"../testdata/rules-accounts"},
		ClickHouse: proxied, HTTP: "127.0.0.1:0", Log: zerolog.New(logs),
	})
	base := "http://" + addr
	changes := producer(t, fe.brokers, "events-companies")
	seq := map[string]uint32{}
	change := func(contact, role string, score rules.Points, forget string) {
		t.Helper()
		seq[contact]++
		ch := accounts.Change{To: "eco", Member: accounts.Member{ContactID: contact, CompanyID: "eco", Seq: seq[contact],
			Scores: map[string]rules.Points{"engagement": score * rules.Scale}, Props: map[string]string{"job_role": role}},
			EventID: fmt.Sprintf("e-%s-%d", contact, seq[contact]), At: fe.at.Add(time.Duration(len(seq)) * time.Minute), Forget: forget}
		if forget != "" {
			ch.Member = accounts.Member{ContactID: contact}
		}
		if err := changes.Write(ctxFor(t, 10*time.Second), stream.Message("eco", accounts.AppendChange(nil, &ch))); err != nil {
			t.Fatal(err)
		}
	}
	companyCommitted := func() (bool, error) { return committedTo(ctx, fe.brokers, "scorer-companies", "events-companies") }
	check := analyticsCtx(t)
	rowsOf := func(contact string) uint64 {
		rows, err := fe.store.ContactRows(check, contact)
		if err != nil {
			t.Fatal(err)
		}
		return rows["company_scores"]
	}
	// 9801 counted, then below the model's minimum: two rows it caused.
	change("9801", "intern", 10, "")
	change("9802", "champion", 20, "")
	change("9801", "intern", 2, "")
	change("9803", "intern", 2, "") // never counted
	waitFor(t, "the company changes committed and stored", func() (bool, error) {
		ok, err := companyCommitted()
		return ok && rowsOf("9801") >= 2 && rowsOf("9802") >= 1, err
	})

	proxy.Set(tcpcut.Refuse)
	change("9801", "", 0, accounts.PrivacyDeleted)
	erasureWaits(t, base, logs, done, companyCommitted)
	// The company's score answers from memory meanwhile: the wait holds
	// no lock a read needs.
	if code, body := getWithin(t, base+"/companies/eco/score?model=account_engagement", 10*time.Second); code != 200 || strings.Contains(body, `"9801"`) {
		t.Errorf("company score read while the erasure waits: %d %s, want 200 without 9801", code, body)
	}

	proxy.Set(tcpcut.Up)
	waitFor(t, "the deletion committed after the outage", companyCommitted)
	if err := fe.store.WaitMutations(check); err != nil {
		t.Fatal(err)
	}
	if n := rowsOf("9801"); n != 0 {
		t.Errorf("%d company_scores rows caused by 9801 left after its privacy deletion", n)
	}
	if rowsOf("9802") == 0 {
		t.Error("9802's company_scores rows were erased")
	}

	// A stop while an erasure waits and ClickHouse hangs: bounded, the
	// deletion not committed. 9803 never counted: its deletion moves no
	// score either.
	errs := logs.count(eraseFailing)
	proxy.Set(tcpcut.Refuse)
	change("9803", "", 0, accounts.PrivacyDeleted)
	waitFor(t, "the second erasure to wait", func() (bool, error) { return logs.count(eraseFailing) > errs, nil })
	proxy.Set(tcpcut.Hang)
	stopWithin(t, cancel, done, 20*time.Second)
	if ok, err := committedTo(context.Background(), fe.brokers, "scorer-companies", "events-companies"); err != nil || ok {
		t.Fatalf("the company group committed to its end (%v) after a stop while the deletion's erasure waited", err)
	}
	proxy.Set(tcpcut.Up)
}
