package hubspot_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/hubspot/sandbox"
	"github.com/scorebridge/scorebridge/hubspot/sandbox/sandboxtest"
)

// BenchmarkClientAtHubSpotLimit drives the client at HubSpot's private-app
// limit (190 per 10 s) against a sandbox enforcing the same limit, from 16
// goroutines mixing sequence and workflow calls. The reported req/s should
// sit just under 19 and throttled/op at 0: the limiter, not the client or
// the sandbox, is the bottleneck. Run with -benchtime=300x (about 16 s).
func BenchmarkClientAtHubSpotLimit(b *testing.B) {
	sb, srv := sandboxtest.Start(b, func(c *sandbox.Config) {
		c.RateLimit = sandbox.RateLimitConfig{Max: 190, Interval: 10 * time.Second, Daily: 1_000_000}
	})
	c, _ := sandboxtest.NewClient(b, srv.URL, func(c *hubspot.ClientConfig) { c.RequestsPerInterval, c.Interval, c.Audit = 190, 10*time.Second, nil })
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				var err error
				if i%2 == 0 {
					_, err = c.GetSequence(context.Background(), "9001", "101")
				} else {
					err = c.EnrollWorkflow(context.Background(), "5001", "c1@example.net")
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(sb.Stats().RateLimited)/float64(b.N), "throttled/op")
}
