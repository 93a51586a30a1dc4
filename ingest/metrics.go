package ingest

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the bridge_ingest_* series. A nil *Metrics counts nothing.
type Metrics struct {
	received     *prometheus.CounterVec // by source
	produced     *prometheus.CounterVec // by source
	rejected     *prometheus.CounterVec // by reason
	deadLettered *prometheus.CounterVec // by source
	ignored      *prometheus.CounterVec // by source, type
	loopGuard    prometheus.Counter
	kafkaFailed  *prometheus.CounterVec // by source
	polls        *prometheus.CounterVec // by result

	lastRound atomic.Int64 // unix nanos when the last complete poll round started
}

// NewMetrics registers the ingest series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_ingest_received_total",
			Help: "Items received: webhook events (source=webhook), email events read from HubSpot (source=email)."}, []string{"source"}),
		produced: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_ingest_produced_total",
			Help: "Events produced to the events topic and acknowledged by Kafka, by source."}, []string{"source"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_ingest_rejected_total",
			Help: "Webhook requests refused, by reason (signature: 401, nothing produced; method; body)."}, []string{"reason"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_ingest_dead_lettered_total",
			Help: "Items sent to the ingest dead-letter topic with a reason, by source."}, []string{"source"}),
		ignored: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_ingest_ignored_total",
			Help: "Email events of a type ingest does not map (SENT, PROCESSED, DEFERRED, ...), by type."}, []string{"source", "type"}),
		loopGuard: prometheus.NewCounter(prometheus.CounterOpts{Name: "bridge_ingest_loop_guard_dropped_total",
			Help: "Property changes to properties the write-back owns, dropped so a score written to HubSpot does not come back as an event."}),
		kafkaFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_ingest_kafka_failures_total",
			Help: "Writes to Kafka that failed (webhooks answered 503, HubSpot retries; email pages read again next round), by source."}, []string{"source"}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_ingest_email_polls_total",
			Help: "Email events poll rounds, by result (ok, error)."}, []string{"result"}),
	}
	lag := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "bridge_ingest_email_poller_lag_seconds",
		Help: "Seconds since the start of the last complete email events poll round: every event HubSpot listed before then is in Kafka. About the poll interval when healthy; 0 before the first round."},
		func() float64 {
			t := m.lastRound.Load()
			if t == 0 {
				return 0
			}
			return time.Since(time.Unix(0, t)).Seconds()
		})
	reg.MustRegister(m.received, m.produced, m.rejected, m.deadLettered, m.ignored, m.loopGuard, m.kafkaFailed, m.polls, lag)
	for _, s := range []string{"webhook", "email"} {
		m.received.WithLabelValues(s)
		m.produced.WithLabelValues(s)
		m.deadLettered.WithLabelValues(s)
		m.kafkaFailed.WithLabelValues(s)
	}
	m.rejected.WithLabelValues("signature")
	return m
}

// add counts n on one of the counters, by name; a nil m counts nothing.
func (m *Metrics) add(counter string, n int, labels ...string) {
	if m == nil || n == 0 {
		return
	}
	c := map[string]*prometheus.CounterVec{
		"received": m.received, "produced": m.produced, "rejected": m.rejected,
		"dead_lettered": m.deadLettered, "ignored": m.ignored, "kafka_failed": m.kafkaFailed,
	}[counter]
	c.WithLabelValues(labels...).Add(float64(n))
}

func (m *Metrics) loopGuarded(n int) {
	if m != nil && n > 0 {
		m.loopGuard.Add(float64(n))
	}
}

func (m *Metrics) roundDone(start time.Time) {
	if m == nil {
		return
	}
	m.lastRound.Store(start.UnixNano())
	m.polls.WithLabelValues("ok").Inc()
}

func (m *Metrics) pollFailed() {
	if m != nil {
		m.polls.WithLabelValues("error").Inc()
	}
}
