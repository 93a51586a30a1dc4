package kafkabench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/scorebridge/scorebridge/stream"
	"github.com/twmb/franz-go/pkg/kgo"
)

// LatencyConfig shapes a latency run: events are produced at Rate per
// second for Duration through Pipeline, and each downstream message is
// matched to the event that caused it.
type LatencyConfig struct {
	Brokers    []string
	Rate       int           // events per second, default 10,000
	Duration   time.Duration // default 20s
	Partitions int           // default 6
	Source     Source        // default SyntheticEvents(2, 100_000)
	Pipeline   Pipeline      // default PassThrough()
	// Correlate names the input event a downstream message answers;
	// default: its JSON "event_id" field, else its "id" field (a crossing
	// carries event_id; a passed-through event its own id).
	Correlate func(value []byte) string
	Keep      bool
	Log       io.Writer
}

// LatencyReport gives latencies from the moment an event was handed to
// the producer to the moment its downstream message was visible to a
// consumer (Visible) and to that message's own timestamp (Stamped,
// millisecond precision, set by the pipeline's producer).
type LatencyReport struct {
	Rate             int
	Sent, Downstream int
	Matched          int
	SendRate         float64 // achieved
	Visible, Stamped Percentiles
}

// Percentiles of a latency sample.
type Percentiles struct{ P50, P90, P99, Max time.Duration }

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return Percentiles{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: d[len(d)-1]}
}

// Print writes the report.
func (r LatencyReport) Print(w io.Writer) {
	fmt.Fprintf(w, "latency at %d events/s (achieved %.0f/s): %d sent, %d downstream messages, %d matched\n",
		r.Rate, r.SendRate, r.Sent, r.Downstream, r.Matched)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }
	fmt.Fprintf(w, "  produce -> downstream visible:   p50 %s  p90 %s  p99 %s  max %s\n", ms(r.Visible.P50), ms(r.Visible.P90), ms(r.Visible.P99), ms(r.Visible.Max))
	fmt.Fprintf(w, "  produce -> downstream timestamp: p50 %s  p90 %s  p99 %s  max %s\n", ms(r.Stamped.P50), ms(r.Stamped.P90), ms(r.Stamped.P99), ms(r.Stamped.Max))
}

func defaultCorrelate(value []byte) string {
	var v struct {
		EventID string `json:"event_id"`
		ID      string `json:"id"`
	}
	if json.Unmarshal(value, &v) != nil {
		return ""
	}
	if v.EventID != "" {
		return v.EventID
	}
	return v.ID
}

// RunLatency measures produce-to-downstream latency at a fixed rate.
func RunLatency(ctx context.Context, cfg LatencyConfig) (LatencyReport, error) {
	if len(cfg.Brokers) == 0 {
		return LatencyReport{}, errors.New("latency: no brokers")
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 10_000
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 20 * time.Second
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = 6
	}
	if cfg.Source == nil {
		cfg.Source = SyntheticEvents(2, 100_000)
	}
	if cfg.Pipeline == nil {
		cfg.Pipeline = PassThrough()
	}
	if cfg.Correlate == nil {
		cfg.Correlate = defaultCorrelate
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	rep := LatencyReport{Rate: cfg.Rate}
	stamp := time.Now().UnixNano()
	in, out := fmt.Sprintf("lat-events-%d", stamp), fmt.Sprintf("lat-out-%d", stamp)
	if err := stream.EnsureTopics(ctx, cfg.Brokers, stream.Topic{Name: in, Partitions: cfg.Partitions}, stream.Topic{Name: out, Partitions: cfg.Partitions}); err != nil {
		return rep, err
	}
	if !cfg.Keep {
		defer deleteTopics(cfg.Brokers, in, out)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	pipeDone := make(chan error, 1)
	go func() { pipeDone <- cfg.Pipeline(ctx, cfg.Brokers, in, out, fmt.Sprintf("lat-%d", stamp)) }()

	var (
		mu      sync.Mutex
		sent    = map[string]time.Time{}
		warm    = map[string]bool{}
		visible []time.Duration
		stamped []time.Duration
		down    int
		matched = make(chan struct{}, 1)
	)
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.ConsumeTopics(out),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return rep, err
	}
	defer cl.Close()
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			now := time.Now()
			fs.EachRecord(func(r *kgo.Record) {
				id := cfg.Correlate(r.Value)
				mu.Lock()
				defer mu.Unlock()
				down++
				t0, ok := sent[id]
				if !ok {
					return
				}
				delete(sent, id)
				if warm[id] {
					select {
					case matched <- struct{}{}:
					default:
					}
					return
				}
				visible = append(visible, now.Sub(t0))
				stamped = append(stamped, max(0, r.Timestamp.Sub(t0)))
			})
		}
	}()

	// The source pushes; the pacer pulls.
	type ev struct {
		id string
		m  stream.Record
	}
	evs := make(chan ev, cfg.Rate)
	total := cfg.Rate*int(cfg.Duration/time.Second) + 1000
	go func() {
		defer close(evs)
		_ = cfg.Source(total, func(key string, value []byte) error {
			select {
			case evs <- ev{id: cfg.Correlate(value), m: stream.Record{Key: []byte(key), Value: value}}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	p, err := stream.NewProducer(stream.ProducerConfig{Brokers: cfg.Brokers, Topic: in, Async: true})
	if err != nil {
		return rep, err
	}
	defer p.Close()
	send := func(e ev, isWarm bool) error {
		mu.Lock()
		sent[e.id] = time.Now()
		warm[e.id] = isWarm
		mu.Unlock()
		return p.Write(ctx, e.m)
	}

	// Warm up until the pipeline has joined and answers (or 20s pass: a
	// pipeline may legitimately answer only some events).
	fmt.Fprintln(cfg.Log, "warming up the pipeline ...")
	warmUntil := time.Now().Add(20 * time.Second)
warmup:
	for time.Now().Before(warmUntil) {
		e, ok := <-evs
		if !ok {
			break
		}
		if err := send(e, true); err != nil {
			return rep, err
		}
		select {
		case <-matched:
			break warmup
		case err := <-pipeDone:
			return rep, fmt.Errorf("pipeline stopped during warm-up: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}

	fmt.Fprintf(cfg.Log, "producing %d events/s for %s ...\n", cfg.Rate, cfg.Duration)
	const tickEvery = 5 * time.Millisecond
	tick := time.NewTicker(tickEvery)
	start := time.Now()
	owed := 0.0
	n := 0
	for time.Since(start) < cfg.Duration {
		select {
		case <-tick.C:
		case err := <-pipeDone:
			tick.Stop()
			return rep, fmt.Errorf("pipeline stopped: %w", err)
		}
		// Catch up on ticks the scheduler delayed so the rate holds.
		owed = float64(cfg.Rate)*time.Since(start).Seconds() - float64(n)
		for ; owed >= 1; owed-- {
			e, ok := <-evs
			if !ok {
				break
			}
			if err := send(e, false); err != nil {
				return rep, err
			}
			n++
		}
	}
	tick.Stop()
	rep.Sent = n
	rep.SendRate = float64(n) / time.Since(start).Seconds()

	// Let stragglers arrive: until nothing new matched for a second.
	last, lastChange := -1, time.Now()
	for time.Since(lastChange) < time.Second && time.Since(start) < cfg.Duration+30*time.Second {
		mu.Lock()
		k := len(visible)
		mu.Unlock()
		if k != last {
			last, lastChange = k, time.Now()
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-consumed
	mu.Lock()
	defer mu.Unlock()
	rep.Downstream = down
	rep.Matched = len(visible)
	rep.Visible = percentiles(visible)
	rep.Stamped = percentiles(stamped)
	return rep, nil
}
