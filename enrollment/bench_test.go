package enrollment

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
)

// BenchmarkHandle is the bridge's own cost per enrolled crossing (pipeline,
// write-ahead intent and the decision's transaction, both fsynced) with a
// sink that answers at once: the ceiling the sink's rate limit should stay
// under.
func BenchmarkHandle(b *testing.B) {
	cfg, err := ParseConfig("bench.yaml", []byte(`
sink: dry-run
senders: [{owner_id: "u-1", user_id: "101", email: "ana@example.com", daily_enrollments: 100000000, daily_sends: 100000000}]
routes: [{model: engagement, when: 'contact.lifecycle_stage == "lead"', sequence_id: "9001"}]
suppress: {lifecycle_stages: [customer], email_domains: [competitor.com]}
`))
	if err != nil {
		b.Fatal(err)
	}
	store, err := OpenStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	br := NewBridge(cfg, store, NewDryRun(), nil, func() time.Time { return t0 }, Retry{})
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		id := strconv.Itoa(i)
		c := crossing(id, func(c *events.Crossing) { c.CompanyID = "" })
		r, err := br.Handle(ctx, c)
		if err != nil || r.Decision.Kind != KindEnrolled {
			b.Fatalf("%v %+v", err, r.Decision)
		}
	}
}
