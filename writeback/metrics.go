package writeback

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/scorebridge/scorebridge/hubspot"
	"github.com/scorebridge/scorebridge/stream"
)

// Metrics are the write-back's bridge_writeback_* series, shared by the
// contacts' and the companies' writers: every series but the pending
// gauges has an object label (contacts, companies). A nil *Metrics counts
// nothing.
type Metrics struct {
	Pending          prometheus.Gauge       // contacts
	PendingCompanies prometheus.Gauge       // companies
	Writes           *prometheus.CounterVec // by object, result: ok, failed
	Calls            *prometheus.CounterVec // by object, result: ok, failed, retry_later
	Skipped          *prometheus.CounterVec // by object, reason: below_min_delta, coalesced, malformed
	Lag              *prometheus.HistogramVec
	Consumer         *prometheus.GaugeVec // filled at collection from the consumers

	mu        sync.Mutex
	consumers map[string]*stream.GroupConsumer
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bridge_writeback_pending_contacts", Help: "Contacts whose new scores wait for the next write to HubSpot.",
		}),
		PendingCompanies: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bridge_writeback_pending_companies", Help: "Companies whose new scores wait for the next write to HubSpot.",
		}),
		Writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_writeback_writes_total", Help: "Record writes answered by HubSpot, by object (contacts, companies) and result (ok, failed: per-record or refused call).",
		}, []string{"object", "result"}),
		Calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_writeback_calls_total", Help: "CRM batch update calls, by object and result (ok: 200 or 207, failed: refused, retry_later: retries exhausted, records kept).",
		}, []string{"object", "result"}),
		Skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_writeback_skipped_total", Help: "Scores messages not written, by object and reason (below_min_delta, coalesced into a later one, malformed).",
		}, []string{"object", "reason"}),
		Lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bridge_writeback_lag_seconds", Help: "From a record's new scores being read to HubSpot's answer to their write, by object.",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 14),
		}, []string{"object"}),
		Consumer: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bridge_writeback_consumer_lag", Help: "Messages behind the end of the scores topic (lead-scores, company-scores), over owned partitions, by object.",
		}, []string{"object"}),
		consumers: map[string]*stream.GroupConsumer{},
	}
	m.Consumer.WithLabelValues(hubspot.ObjectContacts) // 0 until the consumer runs
	reg.MustRegister(m.Pending, m.PendingCompanies, m.Writes, m.Calls, m.Skipped, m.Lag, consumerLag{m})
	return m
}

// consumerLag collects the consumer lag gauges from the running consumers.
type consumerLag struct{ m *Metrics }

func (c consumerLag) Describe(ch chan<- *prometheus.Desc) { c.m.Consumer.Describe(ch) }

func (c consumerLag) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	for object, g := range c.m.consumers {
		c.m.Consumer.WithLabelValues(object).Set(float64(g.Lag()))
	}
	c.m.mu.Unlock()
	c.m.Consumer.Collect(ch)
}

func (m *Metrics) consumer(object string, g *stream.GroupConsumer) {
	if m != nil {
		m.mu.Lock()
		m.consumers[object] = g
		m.mu.Unlock()
	}
}

func (m *Metrics) pending(object string, n int) {
	if m == nil {
		return
	}
	if object == hubspot.ObjectCompanies {
		m.PendingCompanies.Set(float64(n))
		return
	}
	m.Pending.Set(float64(n))
}

func (m *Metrics) count(object, reason string, n int) {
	if m != nil {
		m.Skipped.WithLabelValues(object, reason).Add(float64(n))
	}
}

func (m *Metrics) call(object, result string) {
	if m != nil {
		m.Calls.WithLabelValues(object, result).Inc()
	}
}

func (m *Metrics) writes(object string, ok, failed int) {
	if m != nil {
		m.Writes.WithLabelValues(object, "ok").Add(float64(ok))
		m.Writes.WithLabelValues(object, "failed").Add(float64(failed))
	}
}

func (m *Metrics) lag(object string, d time.Duration) {
	if m != nil {
		m.Lag.WithLabelValues(object).Observe(d.Seconds())
	}
}
