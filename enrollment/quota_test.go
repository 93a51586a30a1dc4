package enrollment

import (
	"context"
	"testing"
	"time"
)

func ts(hours ...float64) []time.Time {
	out := make([]time.Time, len(hours))
	for i, h := range hours {
		out[i] = t0.Add(time.Duration(h * float64(time.Hour)))
	}
	return out
}

func TestQuotaStage(t *testing.T) {
	// u-1: 2 enrollments and 5 sends per 24 h. The fake sequence sends
	// emails at +0 h and +48 h.
	tests := []struct {
		name      string
		usage     SenderUsage
		seqErr    error
		steps     []Step
		want      string
		notBefore time.Time
	}{
		{name: "empty", want: "pass"},
		{name: "one enrollment left", usage: SenderUsage{Enrollments: ts(-3)}, want: "pass"},
		{name: "enrollments full", usage: SenderUsage{Enrollments: ts(-20, -3)},
			want: "held:quota", notBefore: t0.Add(4 * time.Hour)},
		{name: "old enrollments leave the window", usage: SenderUsage{Enrollments: ts(-30, -24, -3)}, want: "pass"},
		{name: "sends at the cap: 4 + 1 fits", usage: SenderUsage{Sends: ts(-5, -1, 2, 3)}, want: "pass"},
		{name: "sends over the cap", usage: SenderUsage{Sends: ts(-5, -1, 2, 3, 4)},
			want: "held:quota", notBefore: t0.Add(19 * time.Hour)},
		{name: "future residue counts against the later email", usage: SenderUsage{Sends: ts(40, 41, 42, 43, 44)},
			want: "held:quota", notBefore: t0.Add(16 * time.Hour)}, // 16 h + 48 h is 24 h after 40 h
		{name: "a busy window between the new emails is not ours", usage: SenderUsage{Sends: ts(24, 24, 24, 24, 24)}, want: "pass"},
		{name: "task steps do not count", steps: []Step{{1, 0, "TASK"}, {2, time.Hour, "TASK"}},
			usage: SenderUsage{Sends: ts(-5, -1, 2, 3, 4)}, want: "pass"},
		{name: "steps unknown: held", seqErr: err503, want: "held:sink_unavailable", notBefore: t0.Add(5 * time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testCfg(t)
			store := openStore(t, t.TempDir())
			putState(t, store, bucketSenders, "u-1", tt.usage)
			sink := newFakeSink()
			sink.seqErr, sink.steps = tt.seqErr, tt.steps
			a := routed(t, cfg, crossing("a"), t0)
			q := &QuotaStage{Config: cfg, Ledger: store, Sequences: NewSequenceCache(sink)}
			d, err := q.Exec(context.Background(), a)
			if err != nil {
				t.Fatal(err)
			}
			if got := outcome(d); got != tt.want {
				t.Fatalf("got %s, want %s (%+v)", got, tt.want, d)
			}
			if d != nil && !d.NotBefore.Equal(tt.notBefore) {
				t.Errorf("not before %v, want %v", d.NotBefore, tt.notBefore)
			}
			if d == nil && len(a.Schedule) == 0 && tt.steps == nil {
				t.Errorf("schedule not projected")
			}
		})
	}
}

func TestQuotaSkipsWorkflows(t *testing.T) {
	cfg := testCfg(t)
	store := openStore(t, t.TempDir())
	putState(t, store, bucketSenders, "u-1", SenderUsage{Enrollments: ts(-2, -1)})
	a := routed(t, cfg, crossing("a", nurture), t0)
	d, err := (&QuotaStage{Config: cfg, Ledger: store, Sequences: NewSequenceCache(newFakeSink())}).Exec(context.Background(), a)
	if err != nil || d != nil {
		t.Fatalf("workflow held by a sender quota: %v %+v", err, d)
	}
}

func TestSequenceCache(t *testing.T) {
	sink := newFakeSink()
	c := NewSequenceCache(sink)
	if _, err := c.Get(context.Background(), "9001", "101", t0); err != nil {
		t.Fatal(err)
	}
	sink.seqErr = err503
	if _, err := c.Get(context.Background(), "9001", "101", t0.Add(59*time.Minute)); err != nil {
		t.Errorf("cached entry not used: %v", err)
	}
	if _, err := c.Get(context.Background(), "9001", "101", t0.Add(61*time.Minute)); err == nil {
		t.Errorf("stale entry used")
	}
}
