package enrollment

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/hubspot"
)

// ServiceMetrics are the bridge service's Prometheus series. It also
// meters the sink (MeterSink) so that the time a call waited for the
// client's rate limiter can be told from the time HubSpot took.
type ServiceMetrics struct {
	Crossings      *prometheus.CounterVec // by result: decided, duplicate, dead_letter
	Decisions      *prometheus.CounterVec // by kind, reason
	DecideSeconds  prometheus.Histogram
	APICalls       *prometheus.CounterVec // by op, status ("0": no answer)
	APICallSeconds prometheus.Histogram
	LimiterWait    prometheus.Histogram
	Errors         *prometheus.CounterVec // by kind
	Held           prometheus.Gauge
	Outbox         prometheus.Gauge
	CallOutbox     prometheus.Gauge
	Recorded       prometheus.Counter

	seq    atomic.Uint64
	starts sync.Map // sink call number -> time.Time it began
}

// NewServiceMetrics registers the series on reg; lag reports the consumer
// lag (messages behind the end of the crossings topic).
func NewServiceMetrics(reg prometheus.Registerer, lag func() float64) *ServiceMetrics {
	m := &ServiceMetrics{
		Crossings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_crossings_total", Help: "Crossings read, by result (decided, duplicate, dead_letter).",
		}, []string{"result"}),
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_decisions_total", Help: "Decisions made, by kind and reason (failed with a remote message: reason=remote).",
		}, []string{"kind", "reason"}),
		DecideSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "bridge_decide_seconds", Help: "Time to decide a new crossing and make the decision durable.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		APICalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_api_calls_total", Help: "HTTP exchanges with HubSpot, by operation and status (0: no answer).",
		}, []string{"op", "status"}),
		APICallSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "bridge_api_call_seconds", Help: "Latency of one HTTP exchange with HubSpot.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		LimiterWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "bridge_limiter_wait_seconds", Help: "Wait before a sink call's first HTTP request: the client's rate limiter and Retry-After pauses.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_errors_total", Help: errorsHelp(),
		}, []string{"kind"}),
		Held: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bridge_held_crossings", Help: "Crossings waiting in the durable held queue.",
		}),
		Outbox: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bridge_outbox_decisions", Help: "Decisions not yet written to the audit (ClickHouse or the local audit).",
		}),
		CallOutbox: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bridge_outbox_api_calls", Help: "api_calls audit rows stored durably and not yet written to ClickHouse.",
		}),
		Recorded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bridge_decisions_recorded_total", Help: "Decisions handed from the outbox to the audit.",
		}),
	}
	lagFn := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "bridge_consumer_lag", Help: "Messages behind the end of the crossings topic, over owned partitions.",
	}, lag)
	for _, k := range ErrorKinds { // every kind exported from the start, at 0
		m.Errors.WithLabelValues(string(k))
	}
	reg.MustRegister(m.Crossings, m.Decisions, m.DecideSeconds, m.APICalls, m.APICallSeconds, m.LimiterWait,
		m.Errors, m.Held, m.Outbox, m.CallOutbox, m.Recorded, lagFn)
	return m
}

func (m *ServiceMetrics) decided(d Decision, took time.Duration) {
	if m == nil {
		return
	}
	m.Decisions.WithLabelValues(string(d.Kind), reasonLabel(d.Reason)).Inc()
	if took > 0 {
		m.DecideSeconds.Observe(took.Seconds())
	}
}

// sizes sets the queue gauges from the store's counters (no row is read).
func (m *ServiceMetrics) sizes(s *Store) {
	if m == nil {
		return
	}
	held, outbox, calls := s.Sizes()
	m.Held.Set(float64(held))
	m.Outbox.Set(float64(outbox))
	m.CallOutbox.Set(float64(calls))
}

func (m *ServiceMetrics) crossing(result string) {
	if m != nil {
		m.Crossings.WithLabelValues(result).Inc()
	}
}

func (m *ServiceMetrics) count(kind ErrorKind) {
	if m != nil {
		m.Errors.WithLabelValues(string(kind)).Inc()
	}
}

// Count adds one error of a kind (for the command's own failures).
func (m *ServiceMetrics) Count(kind ErrorKind) { m.count(kind) }

// MeterSink numbers every sink call and labels its HTTP calls with that
// number and the crossing id (WithCrossing), for the audit hook.
// A HookedSink stays one.
func (m *ServiceMetrics) MeterSink(s Sink) Sink {
	if h, ok := s.(HookedSink); ok {
		return meteredHookedSink{meteredSink{s, m}, h}
	}
	return meteredSink{s, m}
}

func (m *ServiceMetrics) begin(ctx context.Context) (context.Context, func()) {
	ref := callRefOf(ctx)
	ref.Call = m.seq.Add(1)
	m.starts.Store(ref.Call, time.Now())
	return withCallRef(ctx, ref), func() { m.starts.Delete(ref.Call) }
}

// AuditHook returns the hubspot client's audit hook: it counts the call,
// observes its latency and the limiter wait before it, and hands the
// audit row to record (nil: metrics only). The row never holds the token:
// the client scrubs it before the hook runs.
func (m *ServiceMetrics) AuditHook(record func(analytics.APICall)) func(hubspot.Call) {
	return func(c hubspot.Call) {
		ref, _ := c.Tag.(CallRef)
		if start, ok := m.starts.LoadAndDelete(ref.Call); ok && ref.Call != 0 {
			m.LimiterWait.Observe(max(0, c.Start.Sub(start.(time.Time)).Seconds()))
		}
		m.APICalls.WithLabelValues(c.Op, strconv.Itoa(c.Status)).Inc()
		m.APICallSeconds.Observe(c.Latency.Seconds())
		if record != nil {
			record(APICallRow(c, ref.CrossingID))
		}
	}
}

// AuditStartHook returns the hubspot client's start hook: it hands the
// row of a call about to be sent (no answer yet) to record, labelled like
// AuditHook's.
func (m *ServiceMetrics) AuditStartHook(record func(analytics.APICall)) func(hubspot.Call) {
	return func(c hubspot.Call) {
		ref, _ := c.Tag.(CallRef)
		record(APICallRow(c, ref.CrossingID))
	}
}

// meteredSink labels each call for the audit hook; behaviour is the inner
// sink's.
type meteredSink struct {
	s Sink
	m *ServiceMetrics
}

func (t meteredSink) Enroll(ctx context.Context, r EnrollRequest) (Enrollment, error) {
	ctx, end := t.m.begin(ctx)
	defer end()
	return t.s.Enroll(ctx, r)
}

// meteredHookedSink meters a HookedSink.
type meteredHookedSink struct {
	meteredSink
	h HookedSink
}

func (t meteredHookedSink) EnrollHooked(ctx context.Context, r EnrollRequest, beforeSend func(*analytics.APICall) error) (Enrollment, error) {
	ctx, end := t.m.begin(ctx)
	defer end()
	return t.h.EnrollHooked(ctx, r, beforeSend)
}

func (t meteredSink) Status(ctx context.Context, contactID string) (*Enrollment, error) {
	ctx, end := t.m.begin(ctx)
	defer end()
	return t.s.Status(ctx, contactID)
}

func (t meteredSink) Sequence(ctx context.Context, sequenceID, userID string) (SequenceInfo, error) {
	ctx, end := t.m.begin(ctx)
	defer end()
	return t.s.Sequence(ctx, sequenceID, userID)
}

func (t meteredSink) EnrollWorkflow(ctx context.Context, workflowID, email string) error {
	ctx, end := t.m.begin(ctx)
	defer end()
	return t.s.EnrollWorkflow(ctx, workflowID, email)
}

func (t meteredSink) UnenrollWorkflow(ctx context.Context, workflowID, email string) error {
	ctx, end := t.m.begin(ctx)
	defer end()
	return t.s.UnenrollWorkflow(ctx, workflowID, email)
}

func (t meteredSink) Workflows(ctx context.Context, contactID string) ([]string, error) {
	ctx, end := t.m.begin(ctx)
	defer end()
	return t.s.Workflows(ctx, contactID)
}
