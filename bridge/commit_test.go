package bridge_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	bt "github.com/scorebridge/scorebridge/bridge/bridgetest"
	"github.com/scorebridge/scorebridge/enrollment"
	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/stream"
)

// gate holds the sandbox's answer to one contact's enrollment call until
// released: until then that crossing is not decided, so not durable.
type gate struct {
	contact string
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

func newGate(contact string) *gate {
	return &gate{contact: contact, arrived: make(chan struct{}), release: make(chan struct{})}
}

func (g *gate) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	if req.Method == http.MethodPost && hubspot.IsEnrollPath(req.URL.Path) &&
		bytes.Contains(body, []byte(`"contactId":"`+g.contact+`"`)) {
		g.once.Do(func() { close(g.arrived) })
		select {
		case <-g.release:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

// offsets are the bridge group's committed offsets and the crossings
// topic's end offsets, by partition (-1: nothing committed).
func offsets(t *testing.T, e *bt.Env) (committed, ends map[int]int64) {
	t.Helper()
	ctx := bt.Context(t, 10*time.Second)
	admin := stream.NewAdmin(e.Brokers)
	defer admin.Close()
	committed, err := admin.CommittedOffsets(ctx, "bridge", bt.Topic, bt.Partitions)
	if err != nil {
		t.Fatal(err)
	}
	if ends, err = admin.EndOffsets(ctx, bt.Topic, bt.Partitions); err != nil {
		t.Fatal(err)
	}
	return committed, ends
}

// partitionOf is the partition the producer's balancer gives key.
func partitionOf(key string) int { return stream.KeyPartition([]byte(key), bt.Partitions) }

// A partition's offset is committed only once every crossing before it is
// durably decided: while one crossing's enrollment call hangs, the
// crossings after it in its partition are decided and their batches done,
// yet the group's offset stays at the hung crossing (a restart would
// redeliver it); the other partitions commit meanwhile. Once the call
// returns, the offset moves to the partition's end.
func TestOffsetCommittedOnlyAfterDecisionDurable(t *testing.T) {
	e := bt.NewEnv(t, 190)
	g := newGate("slow")
	o := e.Options(nil)
	o.Transport = g
	r := bt.Start(t, o)

	e.Produce(t, bt.Crossing("slow", "engagement", "sales", "u-1", "lead"))
	select {
	case <-g.arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("the held enrollment call never arrived")
	}
	p := partitionOf("slow")
	_, ends := offsets(t, e)
	slowOffset := ends[p] - 1

	// Crossings after the held one, in its partition and in the others.
	var after, elsewhere []string
	for i := 0; len(after) < 4 || len(elsewhere) < 4; i++ {
		id := fmt.Sprintf("later-%d", i)
		if partitionOf(id) == p {
			if len(after) < 4 {
				after = append(after, id)
			}
		} else if len(elsewhere) < 4 {
			elsewhere = append(elsewhere, id)
		}
	}
	for _, id := range append(slices.Clone(after), elsewhere...) {
		// Another owner: no wait on the held call's sender lock.
		e.Produce(t, bt.Crossing(id, "engagement", "nurture", "u-2", "lead"))
	}
	bt.WaitFor(t, 20*time.Second, "the later crossings in the workflow", func() bool {
		for _, id := range append(slices.Clone(after), elsewhere...) {
			if len(e.WorkflowLog(id)) != 1 {
				return false
			}
		}
		return true
	})
	bt.WaitFor(t, 10*time.Second, "the other partitions committed to their end", func() bool {
		committed, ends := offsets(t, e)
		for q, end := range ends {
			if q != p && end > 0 && committed[q] < end {
				return false
			}
		}
		return true
	})
	time.Sleep(500 * time.Millisecond) // five commit intervals for a wrong commit of p
	committed, ends := offsets(t, e)
	if committed[p] > slowOffset {
		t.Fatalf("partition %d committed at %d while the crossing at offset %d is undecided (end %d)", p, committed[p], slowOffset, ends[p])
	}
	if d := r.Decisions(t, "slow").Decisions; len(d) != 0 {
		t.Fatalf("the held crossing is already decided: %+v", d)
	}

	close(g.release)
	bt.WaitFor(t, 20*time.Second, "partition committed to its end once the call returned", func() bool {
		committed, ends := offsets(t, e)
		return committed[p] == ends[p]
	})
	bt.WaitFor(t, 10*time.Second, "the held crossing enrolled", func() bool {
		return slices.Equal(r.Decisions(t, "slow").Outcomes(), []string{"enrolled"})
	})
}

// A crossing the stop cut off before it was decided is not committed: its
// contact's earlier crossing hangs in an enrollment call, the bridge stops
// (the hung call becomes a durable held decision after the grace), and the
// later crossing, never decided, stays uncommitted; the next bridge on the
// same state and group receives it again and decides it.
func TestOffsetNotCommittedForCrossingCutOffByStop(t *testing.T) {
	e := bt.NewEnv(t, 190)
	g := newGate("slow")
	o := e.Options(nil)
	o.Transport = g
	o.Grace = 300 * time.Millisecond
	r := bt.Start(t, o)

	first := bt.Crossing("slow", "engagement", "sales", "u-1", "lead")
	e.Produce(t, first)
	select {
	case <-g.arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("the held enrollment call never arrived")
	}
	// The contact's next crossing waits for the first (one contact's
	// crossings are decided in order).
	second := bt.Crossing("slow", "engagement", "nurture", "u-1", "lead")
	e.Produce(t, second)
	p := partitionOf("slow")
	_, ends := offsets(t, e)
	secondOffset := ends[p] - 1
	time.Sleep(500 * time.Millisecond) // five commit intervals
	r.Stop(t)

	st, err := enrollment.OpenStore(e.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	_, decided, err1 := st.Processed(second.CrossingID)
	_, held, err2 := st.HeldCrossing(second.CrossingID)
	st.Close()
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if decided || held {
		t.Fatal("the second crossing was decided before the stop; the test needs it cut off")
	}
	if committed, _ := offsets(t, e); committed[p] > secondOffset {
		t.Fatalf("partition %d committed at %d past the undecided crossing at offset %d", p, committed[p], secondOffset)
	}

	close(g.release)
	r = bt.Start(t, e.Options(nil))
	bt.WaitFor(t, 20*time.Second, "the cut-off crossing decided after the restart", func() bool {
		for _, d := range r.Decisions(t, "slow").Decisions {
			if d.CrossingID == second.CrossingID {
				return true
			}
		}
		return false
	})
}
