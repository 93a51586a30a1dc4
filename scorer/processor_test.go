package scorer

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
)

const partitions = 4

type env struct {
	brokers  []string
	stateDir string   // --state-dir of the processors runUntilDone starts
	metrics  *Metrics // of the processors runUntilDone starts
	accept   TimeWindow
	log      zerolog.Logger
	engine   *scoring.Engine
	events   []events.Event // as produced, in order
	raw      []byte         // the same as JSONL
}

// setup starts a cluster with the service's topics and produces a
// generated history, with two malformed messages, to "events".
func setup(t *testing.T, contacts int) *env {
	t.Helper()
	e, msgs := prepare(t, contacts)
	e.produce(t, msgs)
	return e
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func producer(t *testing.T, brokers []string, topic string) *stream.Producer {
	p, err := stream.NewProducer(stream.ProducerConfig{Brokers: brokers, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func (e *env) processor(t *testing.T, fault func(string) error) *Processor {
	return NewProcessor(Config{
		Brokers: e.brokers, Changelog: "states", Topic: "events", StateDir: e.stateDir,
		Crossings:   producer(t, e.brokers, "crossings"),
		DeadLetters: producer(t, e.brokers, "dlq"),
		States:      producer(t, e.brokers, "states"),
		Partitions:  partitions,
		Forward:     producer(t, e.brokers, "events"),
		Scores:      producer(t, e.brokers, "lead-scores"),
		Log:         e.log,
		Metrics:     e.metrics,
		Accept:      e.accept,
		fault:       fault,
	}, e.engine)
}

func (e *env) consumer(t *testing.T, h stream.Handler) *stream.GroupConsumer {
	g, err := stream.NewGroupConsumer(stream.GroupConfig{
		Brokers: e.brokers, Group: "scorer", Topic: "events", MaxBatch: 97,
		CommitInterval: 50 * time.Millisecond, SessionTimeout: 6 * time.Second,
		HeartbeatInterval: 200 * time.Millisecond, RebalanceTimeout: 2 * time.Second,
	}, h)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// committedAll reports whether the group committed every partition to its end.
func (e *env) committedAll(ctx context.Context) (bool, error) {
	admin := stream.NewAdmin(e.brokers)
	defer admin.Close()
	return admin.CaughtUp(ctx, "scorer", "events", partitions)
}

// runUntilDone runs consumers, restarting after each injected crash, until
// every event is committed.
func (e *env) runUntilDone(t *testing.T, fault func(string) error) (crashes int) {
	ctx := ctxFor(t, 3*time.Minute)
	for {
		p := e.processor(t, fault)
		g := e.consumer(t, p)
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- g.Run(runCtx) }()
		finished := false
		for !finished {
			select {
			case err := <-done:
				cancel()
				if err == nil || !strings.Contains(err.Error(), "injected") {
					t.Fatalf("consumer stopped: %v", err)
				}
				crashes++
				finished = true
			case <-time.After(100 * time.Millisecond):
				ok, err := e.committedAll(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					cancel()
					<-done
					return crashes
				}
			case <-ctx.Done():
				t.Fatal("timed out")
			}
		}
	}
}

// restoredScores reads every partition's state back from the changelog,
// as a new instance would, and scores each contact at its latest event.
func (e *env) restoredScores(t *testing.T) map[string]float64 {
	ctx := ctxFor(t, 30*time.Second)
	out := map[string]float64{}
	s := scoring.NewScorer(e.engine)
	for part := 0; part < partitions; part++ {
		states := map[string]*scoring.Contact{}
		_, err := stream.RestorePartition(ctx, e.brokers, "states", part, func(m stream.Record) error {
			c, err := e.engine.Decode(m.Value)
			states[string(m.Key)] = c
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for id, c := range states {
			for mi, m := range e.engine.Rules.Models {
				out[id+"/"+m.Name] = rules.Float(s.Score(c, mi, c.Latest))
			}
		}
	}
	return out
}

func (e *env) backtest(t *testing.T) (map[string]float64, map[string]bool) {
	scores := map[string]float64{}
	_, err := backtest.Run(e.engine, bytes.NewReader(e.raw), nil, backtest.Options{}, func(l backtest.Line) error {
		scores[l.ContactID+"/"+l.Model] = l.Score
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Crossing ids as the semantics define them.
	return scores, scoring.ExpectedCrossingIDs(e.engine.Rules, e.events)
}

func readTopic(t *testing.T, brokers []string, topic string, parts int) []stream.Record {
	ctx := ctxFor(t, 30*time.Second)
	var out []stream.Record
	for p := 0; p < parts; p++ {
		_, err := stream.RestorePartition(ctx, brokers, topic, p, func(m stream.Record) error { out = append(out, m); return nil })
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func checkAgainstBacktest(t *testing.T, e *env) {
	t.Helper()
	want, wantIDs := e.backtest(t)
	got := e.restoredScores(t)
	if len(got) != len(want) {
		t.Errorf("%d contact scores restored, backtest has %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: restored score %v, backtest %v", k, got[k], v)
		}
	}
	log := events.NewCrossingLog()
	for _, m := range readTopic(t, e.brokers, "crossings", partitions) {
		log.Add(m.Key, m.Value)
	}
	if log.Malformed > 0 || len(log.Conflicts) > 0 {
		t.Errorf("crossings topic: %d malformed, conflicts %q", log.Malformed, log.Conflicts)
	}
	seen := log.IDs
	for id := range wantIDs {
		if _, ok := seen[id]; !ok {
			t.Errorf("crossing %s lost", id)
		}
	}
	for id := range seen {
		if !wantIDs[id] {
			t.Errorf("crossing %s announced but not in the backtest", id)
		}
	}
	if len(wantIDs) == 0 {
		t.Fatal("no crossings: the test would check nothing")
	}
	// Dead letters are at least once too: a replay sends them again; their
	// source partition and offset identify them.
	dlq := map[string]stream.Record{}
	for _, m := range readTopic(t, e.brokers, "dlq", 1) {
		part, _ := m.Header("dlq-partition")
		off, _ := m.Header("dlq-offset")
		dlq[part+"/"+off] = m
	}
	if len(dlq) != 2 {
		t.Fatalf("%d distinct dead letters, want 2", len(dlq))
	}
	for _, m := range dlq {
		reason, _ := m.Header("dlq-reason")
		if reason == "" || !(bytes.HasPrefix(m.Value, []byte(`{"id":"broken"`)) || strings.Contains(reason, "is not its contact_id")) {
			t.Errorf("dead letter %q: reason %q", m.Value, reason)
		}
	}
}

func TestServiceMatchesBacktest(t *testing.T) {
	e := setup(t, 120)
	e.runUntilDone(t, nil)
	checkAgainstBacktest(t, e)
	checkScoresTopic(t, e, true)
}

// Crashes at random points of random batches, each followed by a restart
// from the changelog, leave exactly the scores and crossings of an
// uninterrupted run.
func TestServiceSurvivesCrashes(t *testing.T) {
	e := setup(t, 120)
	r := rand.New(rand.NewPCG(11, 12))
	var mu sync.Mutex
	crashes := e.runUntilDone(t, func(step string) error {
		mu.Lock()
		defer mu.Unlock()
		// Batches are written in groups (pipeline.go): fewer steps run
		// than batches, so each fails more often than 1 in 25.
		if r.Float64() < 0.1 {
			return errors.New("injected crash before " + step)
		}
		return nil
	})
	if crashes < 3 {
		t.Fatalf("only %d crashes injected", crashes)
	}
	t.Logf("%d crashes", crashes)
	checkAgainstBacktest(t, e)
	checkScoresTopic(t, e, false)
}
