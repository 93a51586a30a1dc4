package enrollment

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

func putState(t *testing.T, s *Store, bucket []byte, key string, v any) {
	t.Helper()
	if err := s.db.Update(func(tx *bolt.Tx) error { return put(tx, bucket, key, v) }); err != nil {
		t.Fatal(err)
	}
}

func TestExclusiveStage(t *testing.T) {
	running := &ActiveSequence{SequenceID: "9001", EnrolledAt: t0.Add(-time.Hour), EndsAt: t0.Add(time.Hour)}
	ended := &ActiveSequence{SequenceID: "9001", EnrolledAt: t0.Add(-30 * day), EndsAt: t0.Add(-time.Hour)}
	otherRunning := &ActiveSequence{SequenceID: "7777", EndsAt: t0.Add(time.Hour)}
	tests := []struct {
		name       string
		c          events.Crossing
		contact    *ContactState // ledger for the crossing's contact
		company    *CompanyState // ledger for its company
		hubspot    map[string]string
		statusErr  error
		exclusive  bool
		want       string
		inSequence string
		statusCall int
		forgotten  bool // ledger entry cleared
	}{
		{name: "nothing known", c: crossing("a"), want: "pass"},
		{name: "ledger running: trusted, no call", c: crossing("a"), contact: &ContactState{Sequence: running},
			want: "already_enrolled:ledger", inSequence: "9001"},
		{name: "ledger ended, hubspot still enrolled", c: crossing("a"), contact: &ContactState{Sequence: ended},
			hubspot: map[string]string{"k-a": "9003"}, want: "already_enrolled:status", inSequence: "9003", statusCall: 1},
		{name: "ledger ended, hubspot says none", c: crossing("a"), contact: &ContactState{Sequence: ended},
			want: "pass", statusCall: 1, forgotten: true},
		{name: "ledger ended, status fails: hold", c: crossing("a"), contact: &ContactState{Sequence: ended},
			statusErr: err503, want: "held:sink_unavailable", statusCall: 4}, // retried by the one Retry loop,
		{name: "ledger ended, sink cannot tell", c: crossing("a"), contact: &ContactState{Sequence: ended},
			statusErr: ErrStatusUnknown, want: "pass", statusCall: 1, forgotten: true},
		{name: "company busy", c: crossing("a"), exclusive: true,
			company: &CompanyState{ContactID: "k-other", SequenceID: "9001", EndsAt: t0.Add(time.Hour)},
			want:    "excluded:company_active", inSequence: "9001"},
		{name: "company busy but not exclusive", c: crossing("a"),
			company: &CompanyState{ContactID: "k-other", SequenceID: "9001", EndsAt: t0.Add(time.Hour)}, want: "pass"},
		{name: "company claim by the same contact", c: crossing("a"), exclusive: true,
			company: &CompanyState{ContactID: "k-a", SequenceID: "9001", EndsAt: t0.Add(time.Hour)}, want: "pass"},
		{name: "company claim ended, confirmed", c: crossing("a"), exclusive: true,
			company: &CompanyState{ContactID: "k-other", SequenceID: "9001", EndsAt: t0.Add(-time.Hour)},
			hubspot: map[string]string{"k-other": "9001"}, want: "excluded:company_active", inSequence: "9001", statusCall: 1},
		{name: "company claim ended, released", c: crossing("a"), exclusive: true,
			company: &CompanyState{ContactID: "k-other", SequenceID: "9001", EndsAt: t0.Add(-time.Hour)},
			want:    "pass", statusCall: 1},
		{name: "workflow blocked by running sequence of the theme", c: crossing("a", nurture),
			contact: &ContactState{Sequence: running}, want: "excluded:conflicting_sequence", inSequence: "9001"},
		{name: "workflow passes beside another theme's sequence", c: crossing("a", nurture),
			contact: &ContactState{Sequence: otherRunning}, want: "pass"},
		{name: "workflow blocked by a sequence a rep started", c: crossing("a", nurture),
			hubspot: map[string]string{"k-a": "9001"}, want: "excluded:conflicting_sequence", inSequence: "9001", statusCall: 1},
		{name: "workflow, status down: held, not blocked forever", c: crossing("a", nurture),
			statusErr: err503, want: "held:sink_unavailable", statusCall: 4}, // retried by the one Retry loop,
		{name: "workflow without conflicts: no call", c: crossing("a", nurture, func(c *events.Crossing) {}), want: "pass"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testCfg(t, func(c *Config) { c.CompanyExclusive = tt.exclusive })
			store := openStore(t, t.TempDir())
			sink := newFakeSink()
			sink.statusErr = tt.statusErr
			for k, seq := range tt.hubspot {
				sink.enrolled[k] = Enrollment{ID: "x", SequenceID: seq}
			}
			if tt.contact != nil {
				putState(t, store, bucketContacts, tt.c.ContactID, tt.contact)
			}
			if tt.company != nil {
				putState(t, store, bucketCompanies, tt.c.CompanyID, tt.company)
			}
			a := routed(t, cfg, tt.c, t0)
			if tt.name == "workflow without conflicts: no call" {
				a.Route = &cfg.Routes[2]
			}
			d, err := ExclusiveStage{Config: cfg, Ledger: store, Sink: sink, Retry: Retry{Sleep: noSleep}}.Exec(context.Background(), a)
			if err != nil {
				t.Fatal(err)
			}
			if got := outcome(d); got != tt.want {
				t.Fatalf("got %s, want %s (%+v)", got, tt.want, d)
			}
			if d != nil && d.InSequence != tt.inSequence {
				t.Errorf("in_sequence %q, want %q", d.InSequence, tt.inSequence)
			}
			if d != nil && d.Kind == KindHeld && !d.NotBefore.Equal(t0.Add(5*time.Minute)) {
				t.Errorf("held until %v, want retry_after", d.NotBefore)
			}
			if sink.statusCalls != tt.statusCall {
				t.Errorf("status calls %d, want %d", sink.statusCalls, tt.statusCall)
			}
			st, _ := store.Contact(tt.c.ContactID)
			if tt.forgotten != (tt.contact != nil && tt.contact.Sequence != nil && st.Sequence == nil) {
				t.Errorf("ledger after: %+v (forgotten want %v)", st.Sequence, tt.forgotten)
			}
		})
	}
}

func TestExclusiveStoreFailureIsAnError(t *testing.T) {
	cfg := testCfg(t)
	store := openStore(t, t.TempDir())
	store.Close()
	a := routed(t, cfg, crossing("a"), t0)
	_, err := ExclusiveStage{Config: cfg, Ledger: store, Sink: newFakeSink()}.Exec(context.Background(), a)
	if err == nil || !errors.Is(err, berrors.ErrDatabaseNotOpen) {
		t.Fatalf("got %v", err)
	}
}
