package scorer

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the service's Prometheus series.
type Metrics struct {
	Events      *prometheus.CounterVec // by outcome: scored, duplicate, dead_letter
	Errors      *prometheus.CounterVec // by kind
	Crossings   *prometheus.CounterVec // by model, threshold
	Lag         prometheus.GaugeFunc
	RuleVersion *prometheus.GaugeVec // 1 for the running version
	Contacts    prometheus.Gauge
	Batch       prometheus.Histogram
	InFlight    prometheus.Gauge
	Reloads     *prometheus.CounterVec // by result
	Rerouted    prometheus.Counter     // events forwarded to their home partition
	Bounded     *prometheus.CounterVec // by kind: messages cut down to fit Kafka
}

// NewMetrics registers the series on reg; lag reports the consumer lag.
func NewMetrics(reg prometheus.Registerer, lag func() float64) *Metrics {
	m := &Metrics{
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scorer_events_total", Help: "Engagement events read, by outcome (scored, duplicate, dead_letter, rerouted).",
		}, []string{"outcome"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scorer_errors_total", Help: "Errors by kind: decode (dead-lettered), timestamp (occurred_at outside the accepted window, dead-lettered), reroute (a forwarded event still outside its home partition, dead-lettered), expression (no match), state (unreadable or unwritable), and the durability steps dead_letters, crossings, scores (Kafka), history (ClickHouse), state (changelog).",
		}, []string{"kind"}),
		Crossings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scorer_crossings_total", Help: "Threshold crossings announced, by model and threshold.",
		}, []string{"model", "threshold"}),
		Lag: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "scorer_consumer_lag", Help: "Messages behind the end of the events topic, over owned partitions.",
		}, lag),
		RuleVersion: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scorer_rule_version", Help: "1 for the rule version being applied.",
		}, []string{"version"}),
		Contacts: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "scorer_contacts", Help: "Contacts whose state this instance holds.",
		}),
		Batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "scorer_batch_seconds", Help: "Time to score a batch and make its effects durable.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "scorer_batches_in_flight", Help: "Batches scored whose effects are not yet durable (at most 8 per partition): high while ClickHouse or Kafka is slow.",
		}),
		Reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scorer_rule_reloads_total", Help: "Rule reloads by result (ok, invalid).",
		}, []string{"result"}),
		Rerouted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scorer_events_rerouted_total", Help: "Events that arrived outside their key's murmur2 home partition (a producer with another partitioner) and were forwarded there to be scored.",
		}),
		Bounded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scorer_messages_bounded_total", Help: "Messages too large for Kafka written cut down, by kind: dead_letter (a bounded prefix of the payload, or none), crossing (a bounded contact snapshot, or none).",
		}, []string{"kind"}),
	}
	reg.MustRegister(m.Events, m.Errors, m.Crossings, m.Lag, m.RuleVersion, m.Contacts, m.Batch, m.InFlight, m.Reloads, m.Rerouted, m.Bounded)
	return m
}
