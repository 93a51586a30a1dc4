// Package bridgebench measures the bridge end to end on this machine:
// crossings produced to an in-process Kafka (kfake, over TCP), consumed by
// the real service (bridge.Run), enrolled against the HubSpot sandbox over
// loopback HTTP. It reports the latency from a crossing's produce to its
// enrollment call (paced below the rate limit, so nothing holds it) and
// the sustained enrollment rate with a backlog, for each request limit
// given. `bridge bench` runs it.
package bridgebench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/bridge"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/hubspot/sandbox"
	"github.com/scorebridge/scorebridge/stream"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Options are what `bridge bench` measures.
type Options struct {
	Rates            []int   // client request limits per 10 s
	Crossings        int     // backlog of the throughput phase
	LatencyCrossings int     // crossings of the latency phase
	LatencyRate      float64 // crossings per second in the latency phase (under the limit)
	Partitions       int     // of the crossings topic
	Workers          int     // bridge workers
	SandboxConfig    string
	// ClickHouse, when set, is the audit's server (a DSN whose database
	// part is ignored): each rate runs on a fresh database, dropped after,
	// so the audit's durable rows (decisions, api_calls) are in the loop,
	// as in production.
	ClickHouse string
	Out        io.Writer // the table
}

// Run measures each rate in turn and prints one line per phase.
func Run(o Options) error {
	fmt.Fprintf(o.Out, "%-12s %-10s %6s %9s %9s %9s %11s\n", "limit/10s", "phase", "n", "p50", "p99", "max", "enroll/s")
	for _, rate := range o.Rates {
		if rate < 2 {
			return fmt.Errorf("rate %d: at least 2 requests per 10 s", rate)
		}
		b := benchRun{rate: rate, parts: o.Partitions, workers: o.Workers, sandboxConfig: o.SandboxConfig, out: o.Out}
		if o.ClickHouse != "" {
			dsn, drop, err := freshDatabase(o.ClickHouse)
			if err != nil {
				return err
			}
			defer drop()
			b.clickhouse = dsn
		}
		if err := b.run(o.LatencyCrossings, o.LatencyRate, o.Crossings); err != nil {
			return err
		}
	}
	return nil
}

type benchRun struct {
	rate, parts, workers int
	sandboxConfig        string
	clickhouse           string
	out                  io.Writer

	mu      sync.Mutex
	arrived map[string]time.Time // contact -> first enrollment POST seen by the sandbox
}

func (b *benchRun) run(latN int, latRate float64, n int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		return err
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	if err := stream.EnsureTopics(ctx, brokers, stream.Topic{Name: "crossings", Partitions: b.parts},
		stream.Topic{Name: "crossings-dlq", Partitions: 1}); err != nil {
		return err
	}
	hub, stopHub, err := b.sandbox()
	if err != nil {
		return err
	}
	defer stopHub()
	dir, err := os.MkdirTemp("", "bridge-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfgPath := filepath.Join(dir, "bridge.yaml")
	yaml := fmt.Sprintf("sink: hubspot\nhubspot: {base_url: %q, requests_per_10s: %d}\nsenders:\n", hub, b.rate)
	for i := 1; i <= 8; i++ {
		yaml += fmt.Sprintf("  - {owner_id: \"u-%d\", user_id: \"10%d\", email: %q, daily_enrollments: 1000000, daily_sends: 10000000}\n",
			i, i, []string{"ana", "ben", "chloe", "dev", "elena", "farid", "grace", "hugo"}[i-1]+"@example.com")
	}
	yaml += "routes:\n  - {model: bench, sequence_id: \"9005\"}\n"
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		return err
	}
	os.Setenv("HUBSPOT_TOKEN", "sandbox-token-change-me")
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- bridge.Run(ctx, bridge.Options{Brokers: brokers, Topic: "crossings", DLQ: "crossings-dlq", Group: "bridge",
			Partitions: b.parts, HTTP: "127.0.0.1:0", Config: cfgPath, StateDir: filepath.Join(dir, "state"), ClickHouse: b.clickhouse,
			Workers: b.workers, Tick: time.Second, Grace: time.Second, Log: io.Discard,
			OnReady: func(string) { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		return fmt.Errorf("bridge: %v", err)
	}
	p, err := stream.NewProducer(stream.ProducerConfig{Brokers: brokers, Topic: "crossings"})
	if err != nil {
		return err
	}
	defer p.Close()
	// Warm up: the group join and the sequence cache.
	if _, err := b.phase(ctx, p, "warm", 8, 20, false); err != nil {
		return err
	}
	if _, err := b.phase(ctx, p, "lat", latN, latRate, true); err != nil {
		return err
	}
	if _, err := b.phase(ctx, p, "tput", n, 0, true); err != nil {
		return err
	}
	cancel()
	return <-done
}

// phase produces n crossings (paced at perSec, or all at once when 0)
// and waits for their enrollment calls.
func (b *benchRun) phase(ctx context.Context, p *stream.Producer, name string, n int, perSec float64, report bool) (time.Duration, error) {
	produced := make(map[string]time.Time, n)
	var msgs []stream.Record
	ids := make([]string, n)
	for i := range n {
		id := fmt.Sprintf("%s-%d-%d", name, b.rate, i)
		ids[i] = id
		c := events.Crossing{CrossingID: events.CrossingID(id, "bench", "default", "e-"+id), ContactID: id, Model: "bench",
			Score: 80, Threshold: 60, ThresholdName: "default", CrossedAt: time.Now().UTC(), EventID: "e-" + id,
			Contact: map[string]any{"owner_id": fmt.Sprintf("u-%d", i%8+1), "lifecycle_stage": "lead"}}
		v, _ := json.Marshal(c)
		msgs = append(msgs, stream.Message(id, v))
	}
	start := time.Now()
	if perSec <= 0 {
		for _, id := range ids {
			produced[id] = start
		}
		if err := p.Write(ctx, msgs...); err != nil {
			return 0, err
		}
	} else {
		gap := time.Duration(float64(time.Second) / perSec)
		for i, m := range msgs {
			time.Sleep(time.Until(start.Add(time.Duration(i) * gap)))
			produced[ids[i]] = time.Now()
			if err := p.Write(ctx, m); err != nil {
				return 0, err
			}
		}
	}
	deadline := time.Now().Add(time.Duration(float64(n)/(float64(b.rate)/10)*1.5)*time.Second + 30*time.Second)
	for {
		b.mu.Lock()
		got := 0
		for _, id := range ids {
			if _, ok := b.arrived[id]; ok {
				got++
			}
		}
		b.mu.Unlock()
		if got == n {
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("phase %s: %d of %d enrollments after %s", name, got, n, time.Since(start).Round(time.Second))
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.mu.Lock()
	lat := make([]time.Duration, 0, n)
	var first, last time.Time
	for _, id := range ids {
		at := b.arrived[id]
		lat = append(lat, at.Sub(produced[id]))
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	b.mu.Unlock()
	slices.Sort(lat)
	q := func(f float64) time.Duration {
		return lat[min(len(lat)-1, int(f*float64(len(lat))))].Round(time.Millisecond)
	}
	rate := float64(n-1) / last.Sub(first).Seconds()
	if report {
		label := map[string]string{"lat": "latency", "tput": "backlog"}[name]
		fmt.Fprintf(b.out, "%-12d %-10s %6d %9s %9s %9s %11.1f\n", b.rate, label, n, q(0.5), q(0.99), lat[len(lat)-1].Round(time.Millisecond), rate)
	}
	return q(0.99), nil
}

// sandbox serves the HubSpot sandbox on a loopback port, its limit above
// the client's so the client's limiter is what paces the bridge, and
// notes when each contact's enrollment call arrives.
func (b *benchRun) sandbox() (string, func(), error) {
	cfg, err := sandbox.LoadConfig(b.sandboxConfig)
	if err != nil {
		return "", nil, err
	}
	cfg.RateLimit.Max = b.rate * 2
	cfg.RateLimit.Daily = 100_000_000
	for i := range cfg.Senders {
		cfg.Senders[i].DailySendCap = 100_000_000
	}
	sb, err := sandbox.New(cfg, sandbox.Options{})
	if err != nil {
		return "", nil, err
	}
	b.arrived = map[string]time.Time{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && hubspot.IsEnrollPath(r.URL.Path) {
			at := time.Now()
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var req struct {
				ContactID string `json:"contactId"`
			}
			if json.Unmarshal(body, &req) == nil {
				b.mu.Lock()
				if _, seen := b.arrived[req.ContactID]; !seen {
					b.arrived[req.ContactID] = at
				}
				b.mu.Unlock()
			}
		}
		sb.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// freshDatabase names a database of its own on the server of dsn, and
// returns a function that drops it.
func freshDatabase(dsn string) (string, func(), error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", nil, fmt.Errorf("clickhouse: %w", err)
	}
	u.Path = fmt.Sprintf("/bridge_bench_%d_%d", os.Getpid(), time.Now().UnixNano())
	fresh := u.String()
	return fresh, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if s, err := analytics.Open(ctx, fresh); err == nil {
			s.DropDatabase(ctx)
			s.Close()
		}
	}, nil
}
