package scorer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/analytics/analyticstest"
	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
	"github.com/twmb/franz-go/pkg/kfake"
)

// rescore --apply: the state rebuilt from the stored history under new
// rules is what a backtest under those rules gives, and a scorer started
// afterwards uses it, not its older local snapshot.
func TestRebuildFromHistory(t *testing.T) {
	dsn := analyticstest.DSN(t, "sb_rebuild")
	ctx := ctxFor(t, 3*time.Minute)
	store, err := analytics.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	e := setup(t, 120)
	stateDir := t.TempDir()
	w := store.NewWriter(analytics.WriterOptions{})
	run := func(engine *scoring.Engine, until func(*Processor) bool) *Processor {
		p := NewProcessor(Config{
			Brokers: e.brokers, Changelog: "states", Topic: "events", StateDir: stateDir,
			Crossings: producer(t, e.brokers, "crossings"), DeadLetters: producer(t, e.brokers, "dlq"),
			States: producer(t, e.brokers, "states"), Recorder: w, Log: zerolog.Nop(),
		}, engine)
		g := e.consumer(t, p)
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- g.Run(rctx) }()
		for !until(p) {
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return p
	}
	committed := func(*Processor) bool { ok, _ := e.committedAll(ctx); return ok }
	run(e.engine, committed) // graceful stop: snapshots written
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	// New rules: meetings are worth more.
	next := changedRules(t)
	history := historyFile(t, ctx, store)
	open := func() (io.ReadCloser, error) { return os.Open(history) }
	opts := RebuildOptions{Brokers: e.brokers, EventsTopic: "events", Changelog: "states", Group: "scorer"}

	// Refused while a scorer runs.
	busy := NewProcessor(Config{Brokers: e.brokers, Changelog: "states", Topic: "events", Log: zerolog.Nop()}, e.engine)
	g := e.consumer(t, busy)
	bctx, stop := context.WithCancel(ctx)
	bdone := make(chan error, 1)
	go func() { bdone <- g.Run(bctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for len(g.Assignment()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := Rebuild(ctx, opts, next, open); err == nil || !strings.Contains(err.Error(), "running members") {
		t.Errorf("rebuild while a scorer runs: %v", err)
	}
	stop()
	<-bdone

	n, err := Rebuild(ctx, opts, next, open)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{}
	backtest.Run(next, bytes.NewReader(e.raw), nil, backtest.Options{}, func(l backtest.Line) error {
		want[l.ContactID+"/"+l.Model] = l.Score
		return nil
	})
	if n != len(want)/len(next.Rules.Models) {
		t.Errorf("rebuilt %d states, want %d contacts", n, len(want)/len(next.Rules.Models))
	}
	// A scorer restarted with the new rules holds the rebuilt state, not
	// its snapshot (taken before the rebuild, under the old rules).
	p := run(next, func(p *Processor) bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.parts) == partitions
	})
	for _, part := range p.retained {
		for id, c := range part.contacts {
			s := scoring.NewScorer(next)
			for mi, m := range next.Rules.Models {
				got := rules.Float(s.Score(c, mi, c.Latest))
				if got != want[id+"/"+m.Name] {
					t.Fatalf("%s %s: %v after the rebuild, backtest under the new rules %v", id, m.Name, got, want[id+"/"+m.Name])
				}
			}
		}
	}
	if len(p.retained) == 0 {
		t.Fatal("the restarted scorer held no partition")
	}
	changed := 0
	old := e.restoredScores(t) // decodes the changelog under the old rules: only a sanity count
	for k, v := range want {
		if strings.HasSuffix(k, "/engagement") && old[k] != v {
			changed++
		}
	}
	if changed == 0 {
		t.Fatal("the new rules changed no engagement score: the test checks nothing")
	}
}

func changedRules(t *testing.T) *scoring.Engine {
	dir := t.TempDir()
	for _, f := range []string{"engagement.yaml", "intent.yaml"} {
		src, err := os.ReadFile("../testdata/rules/" + f)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(dir+"/"+f, []byte(strings.Replace(string(src), "points: 10\n    max: 20", "points: 20\n    max: 40", 1)), 0o644)
	}
	set, err := rules.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := scoring.NewEngine(set)
	return e
}

func historyFile(t *testing.T, ctx context.Context, s *analytics.Store) string {
	f, err := os.CreateTemp(t.TempDir(), "history-*.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	if err := s.History(ctx, func(ev events.Event) error { return enc.Encode(ev) }); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// A changelog whose partition count differs from the events topic's is
// refused with both counts, and only a failure to read them carries an
// error of its own.
func TestRebuildRefusesAMisshapenChangelog(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxFor(t, 30*time.Second)
	brokers := c.ListenAddrs()
	err = stream.EnsureTopics(ctx, brokers,
		stream.Topic{Name: "events", Partitions: 2},
		stream.Topic{Name: "states", Partitions: 1, Compacted: true})
	if err != nil {
		t.Fatal(err)
	}
	e := testEngine(t)
	open := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("")), nil }
	_, err = Rebuild(ctx, RebuildOptions{Brokers: brokers, EventsTopic: "events", Changelog: "states", Group: "scorer"}, e, open)
	want := "changelog states has 1 partitions, the events topic events 2: the state is keyed to 1 partitions"
	if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "<nil>") {
		t.Fatalf("Rebuild: %v\nwant %s", err, want)
	}
}
