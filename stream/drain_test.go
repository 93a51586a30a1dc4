package stream

import (
	"context"
	"sync"
	"testing"
	"time"
)

// slowDurable makes each batch durable in the background, delay after
// Handle, as the scorer's pipeline does; like the scorer it gives up once the claim's
// generation ended (Claim.Done), when a late write could overwrite a new
// owner's.
type slowDurable struct {
	delay time.Duration

	mu        sync.Mutex
	handled   int
	completed int // batches made durable while the generation was ours
	aborted   int // batches given up because Done closed first
	inFlight  sync.WaitGroup
}

func (s *slowDurable) Assigned(context.Context, *Claim) error { return nil }

func (s *slowDurable) Handle(_ context.Context, c *Claim, msgs []Record) error {
	s.mu.Lock()
	s.handled += len(msgs)
	s.mu.Unlock()
	done := c.Track(msgs[len(msgs)-1].Offset + 1)
	s.inFlight.Add(1)
	go func() {
		defer s.inFlight.Done()
		select {
		case <-time.After(s.delay):
			s.mu.Lock()
			s.completed++
			s.mu.Unlock()
			done()
		case <-c.Done():
			s.mu.Lock()
			s.aborted++
			s.mu.Unlock()
		}
	}()
	return nil
}

func (s *slowDurable) Revoked(context.Context, *Claim) error { return nil }

func (s *slowDurable) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handled
}

// runSlowDurable consumes 120 events with a slowDurable handler, stops the
// member (a graceful stop: Run's ctx cancelled) while every batch is still
// in flight, and returns the handler, how long Run took to return, and the
// offsets the group holds afterwards.
func runSlowDurable(t *testing.T, group string, delay, revokeTimeout time.Duration) (*slowDurable, time.Duration, map[int]int64, map[int]int64) {
	t.Helper()
	brokers := newCluster(t)
	ctx := testCtx(t, 60*time.Second)
	produce(t, ctx, brokers, testTopic, events(0, 120)...)
	h := &slowDurable{delay: delay}
	gc, err := NewGroupConsumer(GroupConfig{
		Brokers: brokers, Group: group, Topic: testTopic,
		HeartbeatInterval: 200 * time.Millisecond,
		CommitInterval:    100 * time.Millisecond,
		SessionTimeout:    6 * time.Second,
		RebalanceTimeout:  6 * time.Second,
		RevokeTimeout:     revokeTimeout,
		MaxWait:           100 * time.Millisecond,
	}, h)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	exited := make(chan error, 1)
	go func() { exited <- gc.Run(runCtx) }()
	eventually(t, 20*time.Second, "every event handled", func() bool { return h.count() == 120 })
	h.mu.Lock()
	inFlight := h.completed + h.aborted
	h.mu.Unlock()
	if inFlight != 0 {
		t.Fatalf("%d batches finished before the stop; the test needs them in flight (delay %v)", inFlight, delay)
	}
	began := time.Now()
	stop()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of the stop")
	}
	took := time.Since(began)
	h.inFlight.Wait()
	return h, took, committedOffsets(t, ctx, brokers, group), endOffsets(t, ctx, brokers)
}

// A graceful stop lets the batches in flight become durable before the
// generation ends, and commits them: nothing is replayed.
func TestGracefulStopDrainsTrackedBatches(t *testing.T) {
	h, took, committed, ends := runSlowDurable(t, "drain", time.Second, 5*time.Second)
	if h.aborted != 0 || h.completed == 0 {
		t.Errorf("%d batches made durable, %d given up because Done closed first; want none given up", h.completed, h.aborted)
	}
	for p, end := range ends {
		if committed[p] != end {
			t.Errorf("partition %d committed %d, want its end %d: every batch in flight at the stop is durable", p, committed[p], end)
		}
	}
	if took < 500*time.Millisecond {
		t.Errorf("Run returned %v after the stop: it did not wait for the batches in flight", took)
	}
}

// A drain that outlasts RevokeTimeout ends the generation anyway: the
// batches still in flight are given up and replayed by the next owner.
func TestGracefulStopDrainIsBounded(t *testing.T) {
	h, took, committed, _ := runSlowDurable(t, "drain-bounded", 30*time.Second, 300*time.Millisecond)
	if h.completed != 0 || h.aborted == 0 {
		t.Errorf("%d batches made durable, %d given up; want every batch given up", h.completed, h.aborted)
	}
	for p, off := range committed {
		if off >= 0 {
			t.Errorf("partition %d committed %d; nothing was durable", p, off)
		}
	}
	if took > 5*time.Second {
		t.Errorf("Run returned %v after the stop; the drain is bounded by 300ms", took)
	}
}
