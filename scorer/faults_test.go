package scorer

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
	"github.com/twmb/franz-go/pkg/kfake"
)

// A durable step that fails with --state-dir must not leave a snapshot
// holding the failed batch: the restart would trust it, take the batch's
// events for duplicates, and their crossings and states would never be
// written. Each step is failed in turn, three times, each failure
// followed by a restart over the same state directory.
func TestStateDirFailedStepIsReplayed(t *testing.T) {
	for _, step := range []string{"dead_letters", "crossings", "history", "state"} {
		t.Run(step, func(t *testing.T) {
			e := setup(t, 120)
			e.stateDir = t.TempDir()
			var mu sync.Mutex
			calls, failures := 0, 0
			crashes := e.runUntilDone(t, func(s string) error {
				mu.Lock()
				defer mu.Unlock()
				if s != step {
					return nil
				}
				calls++
				if calls%4 == 3 && failures < 3 {
					failures++
					return fmt.Errorf("injected failure of %s (call %d)", s, calls)
				}
				return nil
			})
			if crashes == 0 {
				t.Fatal("no failure injected")
			}
			t.Logf("%d failures of %s injected", crashes, step)
			checkAgainstBacktest(t, e)
		})
	}
}

// Producers that disagree on partitioning (here FNV-1a, kafka-go's Hash,
// for half of every contact's events, and murmur2 for the other half)
// split a contact's events over two partitions. Each event must still be
// scored once, in its key's murmur2 home partition, so that every score
// is the backtest's.
func TestTwoPartitionersScoreAtHome(t *testing.T) {
	e, msgs := prepare(t, 150)
	var fnv, murmur []stream.Record
	for i, m := range msgs {
		if i%2 == 0 {
			fnv = append(fnv, m)
		} else {
			murmur = append(murmur, m)
		}
	}
	w, err := stream.NewProducer(stream.ProducerConfig{Brokers: e.brokers, Topic: "events", Partitioner: stream.FNV1a})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Write(ctxFor(t, 30*time.Second), fnv...); err != nil {
		t.Fatal(err)
	}
	e.produce(t, murmur)
	moved := 0
	home := map[string]int{}
	for _, m := range readTopic(t, e.brokers, "events", partitions) {
		if h := HomePartition(m.Key, partitions); h != m.Partition {
			if _, hop := m.Header(HeaderReroutedFrom); !hop {
				moved++
			}
		}
		home[string(m.Key)] = HomePartition(m.Key, partitions)
	}
	if moved == 0 {
		t.Fatal("every event is in its home partition: the test would check nothing")
	}

	e.runUntilDone(t, nil)

	want, _ := e.backtest(t)
	got := e.restoredScores(t)
	right := 0
	for k, v := range want {
		if got[k] == v {
			right++
		}
	}
	t.Logf("%d events produced outside their home partition; %d of %d contact scores right", moved, right, len(want))
	if right != len(want) || len(got) != len(want) {
		t.Errorf("%d of %d scores right (%d restored)", right, len(want), len(got))
	}
	forwarded := 0
	for _, m := range readTopic(t, e.brokers, "events", partitions) {
		if _, hop := m.Header(HeaderReroutedFrom); hop {
			forwarded++
			if m.Partition != home[string(m.Key)] {
				t.Errorf("event keyed %q forwarded to partition %d, its home is %d", m.Key, m.Partition, home[string(m.Key)])
			}
		}
	}
	if forwarded < moved {
		t.Errorf("%d events forwarded, %d arrived outside their home partition", forwarded, moved)
	}
	// Each contact's state lives in its home partition only.
	for p := 0; p < partitions; p++ {
		stream.RestorePartition(ctxFor(t, 30*time.Second), e.brokers, "states", p, func(m stream.Record) error {
			if h := HomePartition(m.Key, partitions); h != p {
				t.Errorf("state of %q in changelog partition %d, its home is %d", m.Key, p, h)
			}
			return nil
		})
	}
}

// Adding partitions to the events topic (and, to get past the service's
// own check, to the changelog) re-maps contacts: the state restored for a
// partition then holds contacts whose events now go elsewhere. The
// scorer must refuse to start, saying why and what to do.
func TestPartitionCountChangeRefused(t *testing.T) {
	e := setup(t, 60)
	e.runUntilDone(t, nil)
	admin := stream.NewAdmin(e.brokers)
	defer admin.Close()
	if err := admin.AddPartitions(ctxFor(t, 30*time.Second), map[string]int{"events": partitions + 2, "states": partitions + 2}); err != nil {
		t.Fatal(err)
	}
	p := NewProcessor(Config{
		Brokers: e.brokers, Changelog: "states", Topic: "events",
		States: producer(t, e.brokers, "states"), Forward: producer(t, e.brokers, "events"),
		Partitions: partitions + 2, Log: zerolog.Nop(),
	}, e.engine)
	g := e.consumer(t, p)
	err := g.Run(ctxFor(t, time.Minute))
	if err == nil || !strings.Contains(err.Error(), "partition count changed") || !strings.Contains(err.Error(), "--changelog-topic") {
		t.Fatalf("Run = %v, want the partition count change refused with the remedy", err)
	}
	t.Log(err)
}

// poisonEnv is a cluster whose events topic takes messages up to 8 MB
// (so larger events than the scorer's producer takes can arrive) and
// whose dead-letter topic takes only 50 KB per message.
func poisonEnv(t *testing.T) *env {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	e := &env{brokers: c.ListenAddrs()}
	err = stream.EnsureTopics(ctxFor(t, 30*time.Second), e.brokers,
		stream.Topic{Name: "events", Partitions: partitions, Configs: map[string]string{"max.message.bytes": "8388608"}},
		stream.Topic{Name: "crossings", Partitions: partitions},
		stream.Topic{Name: "dlq", Partitions: 1, Configs: map[string]string{"max.message.bytes": "50000"}},
		stream.Topic{Name: "states", Partitions: partitions, Compacted: true},
		stream.Topic{Name: "lead-scores", Partitions: partitions, Compacted: true},
	)
	if err != nil {
		t.Fatal(err)
	}
	e.engine = testEngine(t)
	e.metrics = NewMetrics(prometheus.NewRegistry(), func() float64 { return 0 })
	return e
}

// produceRaw writes values as they are, keyed, in their home partitions,
// with a producer that takes messages up to 16 MB.
func (e *env) produceRaw(t *testing.T, msgs []stream.Record) {
	t.Helper()
	w, err := stream.NewProducer(stream.ProducerConfig{Brokers: e.brokers, Topic: "events", BatchBytes: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, m := range msgs { // one at a time: each its own batch
		if err := w.Write(ctxFor(t, 30*time.Second), m); err != nil {
			t.Fatal(err)
		}
	}
}

// crossingEvents are three events of one contact that cross the
// engagement threshold (40) and intent's nurture (15) on the third; each
// carries contact as its snapshot (raw JSON).
func crossingEvents(id string, at time.Time, contact string) []stream.Record {
	var out []stream.Record
	for i, body := range []string{
		`"type":"form_submitted","properties":{"form":"demo_request"}`,
		`"type":"call_started","properties":{"duration_s":400}`,
		`"type":"call_started","properties":{"duration_s":400}`,
	} {
		v := fmt.Sprintf(`{"id":"%s-e%d","contact_id":"%s","occurred_at":"%s",%s,"contact":%s}`,
			id, i, id, at.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), body, contact)
		out = append(out, stream.Message(id, []byte(v)))
	}
	return out
}

func counterValue(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	return testutil.ToFloat64(c)
}

// One message must not stop the scorer for good: a malformed event near
// 1 MB, an event over the producer's own limit (5 MB), a contact snapshot
// full of '<' (six bytes each when HTML-escaped) and one full of invalid
// UTF-8 (three bytes each once decoded) must each be written as far as
// Kafka takes them, counted, and passed.
func TestPoisonMessagesDoNotStopTheScorer(t *testing.T) {
	e := poisonEnv(t)
	at := time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Second)
	var msgs []stream.Record
	msgs = append(msgs, crossingEvents("c-lt", at, `{"email":"lt@example.com","notes":"`+strings.Repeat("<", 300_000)+`"}`)...)
	msgs = append(msgs, crossingEvents("c-utf", at, `{"email":"utf@example.com","notes":"`+strings.Repeat("\xff", 600_000)+`"}`)...)
	malformed := `{"id":"near-1mb","contact_id":"c-bad","notes":"` + strings.Repeat("x", 1_040_000)
	msgs = append(msgs, stream.Message("c-bad", []byte(malformed)))
	huge := `{"id":"huge","type":"email_opened","contact_id":"c-huge","occurred_at":"` + at.Format(time.RFC3339) +
		`","properties":{"blob":"` + strings.Repeat("y", 5_000_000) + `"}}`
	msgs = append(msgs, stream.Message("c-huge", []byte(huge)))
	e.produceRaw(t, msgs)

	if crashes := e.runUntilDone(t, nil); crashes != 0 {
		t.Fatalf("%d crashes", crashes)
	}

	byContact := map[string][]events.Crossing{}
	for _, m := range readTopic(t, e.brokers, "crossings", partitions) {
		if len(m.Value) > stream.MaxMessageBytes {
			t.Errorf("crossing of %d bytes", len(m.Value))
		}
		x, err := events.DecodeCrossing(m.Value)
		if err != nil {
			t.Fatalf("crossing %.100q: %v", m.Value, err)
		}
		byContact[x.ContactID] = append(byContact[x.ContactID], x)
	}
	for _, id := range []string{"c-lt", "c-utf"} {
		if len(byContact[id]) != 2 {
			t.Errorf("%s: %d crossings, want 2 (engagement, intent nurture)", id, len(byContact[id]))
		}
	}
	for _, x := range byContact["c-lt"] {
		if x.ContactTruncated || len(x.Contact["notes"].(string)) != 300_000 {
			t.Errorf("c-lt: the contact snapshot was cut (truncated %v)", x.ContactTruncated)
		}
	}
	for _, x := range byContact["c-utf"] {
		if !x.ContactTruncated || x.Contact["email"] != "utf@example.com" || x.Contact["notes"] != nil {
			t.Errorf("c-utf: want the snapshot cut to what fits (email kept, notes dropped), got truncated=%v keys %d", x.ContactTruncated, len(x.Contact))
		}
	}
	dls := map[string]stream.Record{}
	for _, m := range readTopic(t, e.brokers, "dlq", 1) {
		dls[string(m.Key)] = m
	}
	for id, size := range map[string]int{"c-bad": len(malformed), "c-huge": len(huge)} {
		m, ok := dls[id]
		if !ok {
			t.Errorf("%s: no dead letter", id)
			continue
		}
		reason, _ := m.Header(stream.HeaderDLQReason)
		src, _ := m.Header(stream.HeaderDLQSourceTopic)
		part, _ := m.Header(stream.HeaderDLQPartition)
		off, _ := m.Header(stream.HeaderDLQOffset)
		cut, _ := m.Header(stream.HeaderDLQTruncated)
		if reason == "" || src != "events" || part == "" || off == "" || cut != fmt.Sprint(size) || len(m.Value) > 50_000 {
			t.Errorf("%s: dead letter reason %q source %q/%s/%s truncated %q, %d bytes", id, reason, src, part, off, cut, len(m.Value))
		}
	}
	if got := counterValue(t, e.metrics.Bounded.WithLabelValues("crossing")); got < 2 {
		t.Errorf("scorer_messages_bounded_total{kind=crossing} = %v, want >= 2", got)
	}
	if got := counterValue(t, e.metrics.Bounded.WithLabelValues("dead_letter")); got < 2 {
		t.Errorf("scorer_messages_bounded_total{kind=dead_letter} = %v, want >= 2", got)
	}
}

// Events dated outside the accepted window (before 2000, more than 24 h
// after the scorer's clock, past ClickHouse's DateTime) are dead-lettered
// with the reason; the contact's score comes from the others alone.
func TestTimestampsOutsideTheWindowDeadLettered(t *testing.T) {
	e := poisonEnv(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	e.accept = TimeWindow{Now: func() time.Time { return now }}
	ev := func(id, at, body string) stream.Record {
		return stream.Message("c-ts", []byte(fmt.Sprintf(`{"id":%q,"contact_id":"c-ts","occurred_at":%q,%s}`, id, at, body)))
	}
	form := `"type":"form_submitted","properties":{"form":"demo_request"}`
	call := `"type":"call_started","properties":{"duration_s":400}`
	bad := map[string]string{
		"y0001": "0001-01-01T00:00:00Z", "y1900": "1900-06-01T00:00:00Z", "y1999": "1999-12-31T23:59:59Z",
		"y2200": "2200-01-01T00:00:00Z", "y9999": "9999-12-31T23:59:59Z", "ahead25h": now.Add(25 * time.Hour).Format(time.RFC3339),
	}
	msgs := []stream.Record{ev("ok1", now.Add(-2*time.Hour).Format(time.RFC3339), form)}
	for id, at := range bad {
		msgs = append(msgs, ev(id, at, call))
	}
	msgs = append(msgs, ev("ok2", now.Add(23*time.Hour).Format(time.RFC3339), call))
	e.produce(t, msgs)
	e.runUntilDone(t, nil)

	reasons := map[string]string{}
	for _, m := range readTopic(t, e.brokers, "dlq", 1) {
		var v struct{ ID string }
		json.Unmarshal(m.Value, &v)
		reasons[v.ID], _ = m.Header(stream.HeaderDLQReason)
	}
	for id := range bad {
		if !strings.Contains(reasons[id], "occurred_at") {
			t.Errorf("%s: dead letter reason %q", id, reasons[id])
		}
	}
	if len(reasons) != len(bad) {
		t.Errorf("%d dead letters, want %d: %v", len(reasons), len(bad), reasons)
	}
	if got := testutil.ToFloat64(e.metrics.Errors.WithLabelValues("timestamp")); got != float64(len(bad)) {
		t.Errorf("scorer_errors_total{kind=timestamp} = %v, want %d", got, len(bad))
	}
	got := e.restoredScores(t)
	if got["c-ts/engagement"] != 35 {
		t.Errorf("engagement score %v, want 35 (demo request 20 + one call 15)", got["c-ts/engagement"])
	}
}

// as_of outside what the state can answer is a bad request, not 200 with
// an overflowed time.
func TestScoreAsOfOutOfRange(t *testing.T) {
	engine := testEngine(t)
	p := NewProcessor(Config{Log: zerolog.Nop()}, engine)
	part := &partition{id: 0, engine: engine, scorer: scoring.NewScorer(engine), contacts: map[string]*scoring.Contact{}}
	ev := events.Event{ID: "e1", Type: "form_submitted", ContactID: "c-1", OccurredAt: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC),
		Properties: map[string]any{"form": "demo_request"}}
	p.scoreEvent(part, &ev, &batch{dirty: map[*scoring.Contact]string{}})
	p.own(part)
	svc := &Service{processor: p}
	svc.started.Store(true) // wired: the handlers may use the processor
	srv := httptest.NewServer(svc.routes(prometheus.NewRegistry()))
	defer srv.Close()
	for asOf, want := range map[string]int{
		"2026-10-02T00:00:00Z": 200, "2026-10-02": 200, "2100-01-01T00:00:00Z": 200,
		"2200-01-01T00:00:00Z": 400, "2300-01-01T00:00:00Z": 400, "9999-12-31T23:59:59Z": 400,
		"1999-12-31T23:59:59Z": 400, "0001-01-01T00:00:00Z": 400, "nonsense": 400,
	} {
		res, err := http.Get(srv.URL + "/contacts/c-1/score?model=engagement&as_of=" + url.QueryEscape(asOf))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("as_of %s: %d %s, want %d", asOf, res.StatusCode, body, want)
		}
	}
}
