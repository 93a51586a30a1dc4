package writeback

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/scorebridge/scorebridge/stream"
)

// Metrics are the write-back's bridge_writeback_* series. A nil *Metrics
// counts nothing.
type Metrics struct {
	Pending  prometheus.Gauge
	Writes   *prometheus.CounterVec // by result: ok, failed
	Calls    *prometheus.CounterVec // by result: ok, failed, retry_later
	Skipped  *prometheus.CounterVec // by reason: below_min_delta, coalesced, malformed
	Lag      prometheus.Histogram   // from a contact's first wanted value to its write
	Consumer prometheus.GaugeFunc

	consumer *stream.GroupConsumer
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bridge_writeback_pending_contacts", Help: "Contacts whose new scores wait for the next write to HubSpot.",
		}),
		Writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_writeback_writes_total", Help: "Contact writes answered by HubSpot, by result (ok, failed: per-record or refused call).",
		}, []string{"result"}),
		Calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_writeback_calls_total", Help: "CRM batch update calls, by result (ok: 200 or 207, failed: refused, retry_later: retries exhausted, contacts kept).",
		}, []string{"result"}),
		Skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_writeback_skipped_total", Help: "Lead-scores messages not written, by reason (below_min_delta, coalesced into a later one, malformed).",
		}, []string{"reason"}),
		Lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "bridge_writeback_lag_seconds", Help: "From a contact's new scores being read to HubSpot's answer to their write.",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 14),
		}),
	}
	m.Consumer = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "bridge_writeback_consumer_lag", Help: "Messages behind the end of the lead-scores topic, over owned partitions.",
	}, func() float64 {
		if m.consumer == nil {
			return 0
		}
		return float64(m.consumer.Lag())
	})
	reg.MustRegister(m.Pending, m.Writes, m.Calls, m.Skipped, m.Lag, m.Consumer)
	return m
}

func (m *Metrics) pending(n int) {
	if m != nil {
		m.Pending.Set(float64(n))
	}
}

func (m *Metrics) count(reason string, n int) {
	if m != nil {
		m.Skipped.WithLabelValues(reason).Add(float64(n))
	}
}

func (m *Metrics) call(result string) {
	if m != nil {
		m.Calls.WithLabelValues(result).Inc()
	}
}

func (m *Metrics) writes(ok, failed int, _ time.Duration) {
	if m != nil {
		m.Writes.WithLabelValues("ok").Add(float64(ok))
		m.Writes.WithLabelValues("failed").Add(float64(failed))
	}
}

func (m *Metrics) lag(d time.Duration) {
	if m != nil {
		m.Lag.Observe(d.Seconds())
	}
}
