package stream

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// owners checks the property per-partition state relies on: a partition
// is never assigned to a member before its previous owner's Revoked has
// returned and its marks are committed.
type owners struct {
	mu        sync.Mutex
	owner     map[int]string
	lastMark  map[int]int64 // the last owner's mark when it was revoked
	overlaps  []string
	handoffs  int
	resumedAt []string // partitions whose new owner did not start at the last mark
}

type owned struct {
	name string
	o    *owners
	seen *recorder
}

func (h *owned) Assigned(ctx context.Context, c *Claim) error {
	h.o.mu.Lock()
	if prev, ok := h.o.owner[c.Partition]; ok {
		h.o.overlaps = append(h.o.overlaps, fmt.Sprintf("partition %d assigned to %s while %s owns it", c.Partition, h.name, prev))
	}
	h.o.owner[c.Partition] = h.name
	if last, ok := h.o.lastMark[c.Partition]; ok {
		h.o.handoffs++
		if last >= 0 && c.Committed != last {
			h.o.resumedAt = append(h.o.resumedAt, fmt.Sprintf("partition %d: %s resumed at %d, previous owner marked %d", c.Partition, h.name, c.Committed, last))
		}
	}
	h.o.mu.Unlock()
	return h.seen.Assigned(ctx, c)
}

func (h *owned) Handle(ctx context.Context, c *Claim, msgs []Record) error {
	return h.seen.Handle(ctx, c, msgs)
}

func (h *owned) Revoked(ctx context.Context, c *Claim) error {
	h.o.mu.Lock()
	delete(h.o.owner, c.Partition)
	h.o.lastMark[c.Partition] = c.Marked()
	h.o.mu.Unlock()
	return h.seen.Revoked(ctx, c)
}

func TestPartitionsMoveOnlyAfterRevokeAndCommit(t *testing.T) {
	brokers := newCluster(t)
	ctx := testCtx(t, 50*time.Second)
	o := &owners{owner: map[int]string{}, lastMark: map[int]int64{}}
	var recs []*recorder
	start := func(name string) *member {
		r := newRecorder(name)
		recs = append(recs, r)
		return startMember(t, brokers, "handoff", &owned{name: name, o: o, seen: r})
	}
	total := func() int {
		seen := map[string]bool{}
		for _, r := range recs {
			r.mu.Lock()
			for v := range r.seen {
				seen[v] = true
			}
			r.mu.Unlock()
		}
		return len(seen)
	}
	n := 0
	feed := func(k int) {
		produce(t, ctx, brokers, testTopic, events(n, n+k)...)
		n += k
		eventually(t, 15*time.Second, fmt.Sprintf("all %d events handled", n), func() bool { return total() == n })
	}

	a := start("a")
	feed(200)
	b := start("b")
	feed(200)
	c := start("c")
	feed(200)
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	feed(200)
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	feed(200)
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}

	o.mu.Lock()
	defer o.mu.Unlock()
	for _, s := range o.overlaps {
		t.Error(s)
	}
	for _, s := range o.resumedAt {
		t.Error(s)
	}
	if o.handoffs < testPartitions {
		t.Errorf("only %d re-assignments observed; the test did not move partitions", o.handoffs)
	}
}
