package enrollment

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
)

func TestSendSequence(t *testing.T) {
	tests := []struct {
		name          string
		errs          []error // scripted Enroll outcomes
		preEnrolled   string  // sequence the contact is already in at HubSpot
		preEnrolledAt time.Time
		preEnrolledBy string
		statusErr     error
		intent        bool // an earlier run left an intent
		want          string
		enrollCalls   int
		statusCalls   int
		detail        string
		keepIntent    bool
	}{
		{name: "success", want: "enrolled", enrollCalls: 1},
		{name: "permanent 404 records HubSpot's message", errs: []error{err404}, want: "failed:Sequence 9001 not found", enrollCalls: 1},
		{name: "no connected inbox", errs: []error{errNoInbox}, want: "failed:User 101 has no connected inboxes for specified user email", enrollCalls: 1},
		{name: "already in another sequence: confirmed, not retried", preEnrolled: "7777",
			want: "already_enrolled:status", enrollCalls: 1, statusCalls: 1},
		{name: "already in the same sequence by a rep: not claimed as ours", preEnrolled: "9001",
			want: "already_enrolled:status", enrollCalls: 1, statusCalls: 1},
		{name: "resumed: same sequence enrolled by another user is not ours", intent: true, preEnrolled: "9001", preEnrolledBy: "999",
			want: "already_enrolled:status", statusCalls: 1, detail: "not a call of ours"},
		{name: "resumed: HubSpot's clock behind ours does not disown our enrollment", intent: true, preEnrolled: "9001",
			preEnrolledBy: "101", preEnrolledAt: t0.Add(-10 * time.Minute),
			want: "enrolled", statusCalls: 1, detail: "resumed"},
		{name: "timeout after HubSpot accepted: status shows it, no second call", errs: []error{applied{errTimeout}},
			want: "enrolled", enrollCalls: 1, statusCalls: 1, detail: "after the answer was lost"},
		{name: "5xx not applied: status empty, then retry", errs: []error{err503},
			want: "enrolled", enrollCalls: 2, statusCalls: 1},
		{name: "429 retried without status check", errs: []error{err429, err429},
			want: "enrolled", enrollCalls: 3},
		{name: "outage: held, intent kept", errs: []error{err429, err429, err429, err429},
			want: "held:sink_unavailable", enrollCalls: 4, keepIntent: true},
		{name: "ambiguous and status down: held before any retry", errs: []error{errTimeout}, statusErr: err503,
			want: "held:sink_unavailable", enrollCalls: 1, statusCalls: 4, keepIntent: true},
		{name: "bad token: held at once, the lead is not failed", errs: []error{&SinkError{Class: Unusable, Status: 401, Message: "invalid token"}},
			want: "held:sink_unavailable", enrollCalls: 1, keepIntent: true},
		{name: "HubSpot's send cap: held as quota", errs: []error{errSendLimit}, want: "held:quota", enrollCalls: 1, keepIntent: true},
		{name: "resumed: earlier call had enrolled", intent: true, preEnrolled: "9001",
			want: "enrolled", statusCalls: 1, detail: "resumed"},
		{name: "resumed: earlier call never arrived", intent: true,
			want: "enrolled", enrollCalls: 1, statusCalls: 1},
		{name: "resumed: status down", intent: true, statusErr: err503,
			want: "held:sink_unavailable", statusCalls: 4, keepIntent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testCfg(t)
			store := openStore(t, t.TempDir())
			sink := newFakeSink()
			sink.enrollErrs, sink.statusErr = tt.errs, tt.statusErr
			c := crossing("a")
			if tt.preEnrolled != "" {
				sink.enrolled[c.ContactID] = Enrollment{ID: "old", SequenceID: tt.preEnrolled, EnrolledAt: tt.preEnrolledAt, EnrolledBy: tt.preEnrolledBy}
			}
			if tt.intent {
				if err := store.PutIntent(Intent{Crossing: c, Target: Target{TargetSequence, "9001"}, At: t0.Add(-time.Minute)}); err != nil {
					t.Fatal(err)
				}
			}
			var slept []time.Duration
			retry := Retry{Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
			s := &SendStage{Config: cfg, Ledger: store, Sink: sink, Retry: retry}
			// An earlier run's call is Resume's to settle, as in the pipeline.
			stages := MultiStage{&ResumeStage{Config: cfg, Ledger: store, Sink: sink, Retry: retry, Sequences: NewSequenceCache(sink)}, s}
			a := routed(t, cfg, c, t0)
			d, err := stages.Exec(context.Background(), a)
			if err != nil {
				t.Fatal(err)
			}
			if got := outcome(d); got != tt.want {
				t.Fatalf("got %s, want %s (%+v)", got, tt.want, d)
			}
			if sink.enrollCalls != tt.enrollCalls || sink.statusCalls != tt.statusCalls {
				t.Errorf("enroll calls %d (want %d), status calls %d (want %d)", sink.enrollCalls, tt.enrollCalls, sink.statusCalls, tt.statusCalls)
			}
			if len(slept) != max(tt.enrollCalls-1, 0) && d.Kind != KindHeld {
				t.Errorf("slept %d times for %d calls", len(slept), tt.enrollCalls)
			}
			if !strings.Contains(d.Detail, tt.detail) {
				t.Errorf("detail %q lacks %q", d.Detail, tt.detail)
			}
			if d.Kind == KindEnrolled && d.EnrollmentID == "" {
				t.Errorf("enrollment id missing")
			}
			// The intent was written ahead of the call; whether it stays is
			// the store's business when the decision is applied.
			if _, ok, _ := store.Intent(c.CrossingID); !ok && (tt.enrollCalls > 0 || tt.intent) {
				t.Errorf("no intent written ahead of the call")
			}
			if err := store.Apply(a, d); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := store.Intent(c.CrossingID); ok != tt.keepIntent {
				t.Errorf("intent kept %v, want %v", ok, tt.keepIntent)
			}
		})
	}
}

// 429 waits what Retry-After says.
func TestSendHonoursRetryAfter(t *testing.T) {
	cfg := testCfg(t)
	sink := newFakeSink()
	sink.enrollErrs = []error{&SinkError{Class: Retryable, Status: 429, RetryAfter: 7 * time.Second}}
	var slept []time.Duration
	s := &SendStage{Config: cfg, Ledger: openStore(t, t.TempDir()), Sink: sink,
		Retry: Retry{Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}}
	d, err := s.Exec(context.Background(), routed(t, cfg, crossing("a"), t0))
	if err != nil || d.Kind != KindEnrolled || len(slept) != 1 || slept[0] != 7*time.Second {
		t.Fatalf("%v %+v slept %v", err, d, slept)
	}
}

func TestSendOverlapGuard(t *testing.T) {
	tests := []struct {
		name        string
		c           events.Crossing
		inWorkflows []string // at HubSpot
		ledgerWfs   []string
		wfErrs      []error
		wfListErr   error
		unenrolled  string
		failed      string
	}{
		{name: "leaves the conflicting workflow", c: crossing("a"), inWorkflows: []string{"501", "509"}, unenrolled: "501"},
		{name: "not in it: nothing to leave", c: crossing("a"), inWorkflows: []string{"509"}},
		{name: "known only to the ledger", c: crossing("a"), ledgerWfs: []string{"501"}, unenrolled: "501"},
		{name: "workflow list unavailable: leave all conflicting", c: crossing("a"), wfListErr: err503, unenrolled: "501"},
		{name: "unenroll retried through an outage blip", c: crossing("a"), inWorkflows: []string{"501"},
			wfErrs: []error{err503, err429}, unenrolled: "501"},
		{name: "unenroll fails: sequence stands, recorded", c: crossing("a"), inWorkflows: []string{"501"},
			wfErrs: []error{err503, err503, err503, err503}, failed: "501"},
		{name: "no email: cannot leave", c: crossing("a", set("email", "")), ledgerWfs: []string{"501"}, failed: "501"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testCfg(t)
			store := openStore(t, t.TempDir())
			if tt.ledgerWfs != nil {
				putState(t, store, bucketContacts, tt.c.ContactID, ContactState{Workflows: tt.ledgerWfs})
			}
			sink := newFakeSink()
			sink.wfErrs, sink.wfListErr = tt.wfErrs, tt.wfListErr
			if tt.inWorkflows != nil {
				sink.workflows["a@prospect.com"] = tt.inWorkflows
			}
			s := &SendStage{Config: cfg, Ledger: store, Sink: sink, Retry: Retry{Sleep: noSleep}}
			a := routed(t, cfg, tt.c, t0)
			d, err := s.Exec(context.Background(), a)
			if err != nil {
				t.Fatal(err)
			}
			if d.Kind != KindEnrolled {
				t.Fatalf("sequence not enrolled: %+v", d)
			}
			if got := strings.Join(d.Unenrolled, ","); got != tt.unenrolled {
				t.Errorf("unenrolled %q, want %q", got, tt.unenrolled)
			}
			if got := strings.Join(d.UnenrollFailed, ","); got != tt.failed {
				t.Errorf("unenroll failed %q, want %q", got, tt.failed)
			}
			if err := store.Apply(a, d); err != nil {
				t.Fatal(err)
			}
			st, _ := store.Contact(tt.c.ContactID)
			if st.Sequence == nil || st.Sequence.SequenceID != "9001" {
				t.Errorf("ledger sequence %+v", st.Sequence)
			}
			for _, w := range d.Unenrolled {
				for _, x := range st.Workflows {
					if x == w {
						t.Errorf("ledger still lists left workflow %s", w)
					}
				}
			}
		})
	}
}

func TestSendWorkflow(t *testing.T) {
	tests := []struct {
		name   string
		c      events.Crossing
		errs   []error
		want   string
		calls  int
		inLedg bool
	}{
		{name: "enrolled", c: crossing("a", nurture), want: "enrolled", calls: 1, inLedg: true},
		{name: "5xx retried: repeating is harmless", c: crossing("a", nurture), errs: []error{err503, errTimeout}, want: "enrolled", calls: 3, inLedg: true},
		{name: "404 unknown workflow", c: crossing("a", nurture), errs: []error{&SinkError{Class: Permanent, Status: 404, Message: "workflow not found"}},
			want: "failed:workflow not found", calls: 1},
		{name: "outage: held", c: crossing("a", nurture), errs: []error{err503, err503, err503, err503}, want: "held:sink_unavailable", calls: 4},
		{name: "no email", c: crossing("a", nurture, set("email", nil)), want: "failed:no_email"},
		{name: "missing scope: held at once", c: crossing("a", nurture), errs: []error{&SinkError{Class: Unusable, Status: 403, Message: "scope"}},
			want: "held:sink_unavailable", calls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testCfg(t)
			store := openStore(t, t.TempDir())
			sink := newFakeSink()
			sink.wfErrs = tt.errs
			s := &SendStage{Config: cfg, Ledger: store, Sink: sink, Retry: Retry{Sleep: noSleep}}
			a := routed(t, cfg, tt.c, t0)
			d, err := s.Exec(context.Background(), a)
			if err != nil {
				t.Fatal(err)
			}
			if outcome(d) != tt.want || len(sink.calls) != tt.calls {
				t.Fatalf("got %s after %d calls %v, want %s after %d", outcome(d), len(sink.calls), sink.calls, tt.want, tt.calls)
			}
			if d.Target == nil || d.Target.Kind != TargetWorkflow || d.OwnerID != "" {
				t.Errorf("target %+v owner %q", d.Target, d.OwnerID)
			}
			if err := store.Apply(a, d); err != nil {
				t.Fatal(err)
			}
			st, _ := store.Contact(tt.c.ContactID)
			if got := len(st.Workflows) == 1 && st.Workflows[0] == "501"; got != tt.inLedg {
				t.Errorf("ledger workflows %v", st.Workflows)
			}
		})
	}
}

func TestSendCancelledWhileWaiting(t *testing.T) {
	cfg := testCfg(t)
	sink := newFakeSink()
	sink.enrollErrs = []error{err429}
	s := &SendStage{Config: cfg, Ledger: openStore(t, t.TempDir()), Sink: sink,
		Retry: Retry{Sleep: func(context.Context, time.Duration) error { return context.Canceled }}}
	d, err := s.Exec(context.Background(), routed(t, cfg, crossing("a"), t0))
	if err != nil || outcome(d) != "held:sink_unavailable" || sink.enrollCalls != 1 {
		t.Fatalf("%v %+v calls %d", err, d, sink.enrollCalls)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want FailureClass
	}{
		{err404, Permanent},
		{errors.New("something odd"), Ambiguous},
		{context.DeadlineExceeded, Ambiguous},
		{&SinkError{Class: AlreadyEnrolled}, AlreadyEnrolled},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	for status, want := range map[int]FailureClass{400: Permanent, 401: Unusable, 403: Unusable, 404: Permanent, 408: Ambiguous, 429: Retryable, 500: Ambiguous, 503: Ambiguous} {
		if got := ClassifyStatus(status, false); got != want {
			t.Errorf("ClassifyStatus(%d) = %v, want %v", status, got, want)
		}
	}
	if ClassifyStatus(400, true) != AlreadyEnrolled {
		t.Errorf("already enrolled 400 not recognised")
	}
}

// An earlier run's call is verified once, by Resume, even when the sink
// cannot report enrollments (a webhook): Send does not ask again.
func TestPriorCallVerifiedOnce(t *testing.T) {
	cfg := testCfg(t)
	store := openStore(t, t.TempDir())
	sink := newFakeSink()
	sink.statusErr = ErrStatusUnknown
	c := crossing("a")
	if err := store.PutIntent(Intent{Crossing: c, Target: Target{TargetSequence, "9001"}, At: t0.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	d, err := Pipeline(cfg, store, sink, Retry{Sleep: noSleep}).Exec(context.Background(), &Attempt{Crossing: c, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if got := outcome(d); got != "enrolled" || sink.enrollCalls != 1 {
		t.Fatalf("got %s after %d enroll calls, want enrolled after 1", got, sink.enrollCalls)
	}
	if sink.statusCalls != 1 {
		t.Errorf("%d status calls for one earlier call, want 1", sink.statusCalls)
	}
}
