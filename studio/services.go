package studio

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/scorebridge/scorebridge/enrollment"
)

// metrics parses a Prometheus text exposition with Prometheus' own parser.
func metrics(b []byte) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(bytes.NewReader(b))
}

// value of one sample: a counter's, a gauge's or an untyped one's.
func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

// total adds up a family's samples whose labels include want.
func total(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	sum := 0.0
	for _, m := range f.Metric {
		if matches(m, want) {
			sum += value(m)
		}
	}
	return sum
}

func matches(m *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		found := false
		for _, l := range m.Label {
			if l.GetName() == k && l.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// Count is a labelled figure.
type Count struct {
	Key   string  `json:"key"`
	Value float64 `json:"value"`
}

// BridgeView is GET /api/bridge: the bridge's decisions, held crossings
// and backlog, from its /metrics.
type BridgeView struct {
	URL       string  `json:"url"`
	Error     string  `json:"error,omitempty"`
	ByOutcome []Count `json:"by_outcome"`
	ByReason  []Count `json:"by_reason"`
	Held      float64 `json:"held"`
	Outbox    float64 `json:"outbox"`
	Lag       float64 `json:"lag"`
	Crossings []Count `json:"crossings"`
	APICalls  []Count `json:"api_calls"`
	// Quota is the bridge's GET /quota: each sender's use of its caps;
	// QuotaError says why it is missing.
	Quota      *BridgeQuota `json:"quota"`
	QuotaError string       `json:"quota_error,omitempty"`
	ReadAt     time.Time    `json:"read_at"`
	Configured bool         `json:"configured"`
}

func sorted(m map[string]float64) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Value != out[j].Value {
			return out[i].Value > out[j].Value
		}
		return out[i].Key < out[j].Key
	})
	return out
}

func by(fams map[string]*dto.MetricFamily, name string, labels ...string) []Count {
	m := map[string]float64{}
	if f := fams[name]; f != nil {
		for _, s := range f.Metric {
			var parts []string
			for _, l := range labels {
				parts = append(parts, label(s, l))
			}
			m[strings.Join(parts, " / ")] += value(s)
		}
	}
	return sorted(m)
}

func (s *Server) apiBridge(w http.ResponseWriter, r *http.Request) {
	v := BridgeView{URL: s.cfg.BridgeURL, ReadAt: time.Now().UTC(), ByOutcome: []Count{}, ByReason: []Count{}, Crossings: []Count{}, APICalls: []Count{}}
	if s.cfg.BridgeURL == "" {
		v.Error = "no bridge configured: start the studio with --bridge http://127.0.0.1:8081"
		reply(w, v)
		return
	}
	v.Configured = true
	b, err := s.fetch(s.cfg.BridgeURL, "/metrics")
	if err == nil {
		var fams map[string]*dto.MetricFamily
		if fams, err = metrics(b); err == nil {
			v.ByOutcome = by(fams, "bridge_decisions_total", "kind")
			v.ByReason = by(fams, "bridge_decisions_total", "kind", "reason")
			v.Held = total(fams, "bridge_held_crossings", nil)
			v.Outbox = total(fams, "bridge_outbox_decisions", nil)
			v.Lag = total(fams, "bridge_consumer_lag", nil)
			v.Crossings = by(fams, "bridge_crossings_total", "result")
			v.APICalls = by(fams, "bridge_api_calls_total", "op", "status")
		}
	}
	if err != nil {
		v.Error = "bridge: " + err.Error()
	}
	if b, err := s.fetch(s.cfg.BridgeURL, "/quota"); err != nil {
		v.QuotaError = "bridge: " + err.Error()
	} else {
		var q BridgeQuota
		if err := json.Unmarshal(b, &q); err != nil {
			v.QuotaError = "bridge answered something else than quota use: " + err.Error()
		} else {
			v.Quota = &q
		}
	}
	reply(w, v)
}

// BridgeQuota is the bridge's GET /quota answer, as it gives it.
type BridgeQuota struct {
	At      time.Time                `json:"at"`
	Senders []enrollment.SenderQuota `json:"senders"`
}

// sample is one reading of the scorer's counters, for rates.
type sample struct {
	at        time.Time
	events    float64
	crossings float64
}

// LiveView is GET /api/live: the scorer's throughput, lag and crossings.
type LiveView struct {
	URL          string    `json:"url"`
	Configured   bool      `json:"configured"`
	Error        string    `json:"error,omitempty"`
	EventsTotal  float64   `json:"events_total"`
	EventsPerSec *float64  `json:"events_per_second"` // nil on the first reading
	Lag          float64   `json:"lag"`
	Crossings    float64   `json:"crossings_total"`
	CrossingsMin *float64  `json:"crossings_per_minute"`
	ByOutcome    []Count   `json:"events_by_outcome"`
	ByThreshold  []Count   `json:"crossings_by_threshold"`
	Contacts     float64   `json:"contacts"`
	RuleVersion  string    `json:"rule_version"`
	ReadAt       time.Time `json:"read_at"`
}

func (s *Server) apiLive(w http.ResponseWriter, r *http.Request) {
	v := LiveView{URL: s.cfg.ScorerURL, ReadAt: time.Now().UTC(), ByOutcome: []Count{}, ByThreshold: []Count{}}
	if s.cfg.ScorerURL == "" {
		v.Error = "no scorer configured: start the studio with --scorer http://127.0.0.1:8080"
		reply(w, v)
		return
	}
	v.Configured = true
	b, err := s.fetch(s.cfg.ScorerURL, "/metrics")
	var fams map[string]*dto.MetricFamily
	if err == nil {
		fams, err = metrics(b)
	}
	if err != nil {
		v.Error = "scorer: " + err.Error()
		reply(w, v)
		return
	}
	v.EventsTotal = total(fams, "scorer_events_total", map[string]string{"outcome": "scored"})
	v.Crossings = total(fams, "scorer_crossings_total", nil)
	v.Lag = total(fams, "scorer_consumer_lag", nil)
	v.Contacts = total(fams, "scorer_contacts", nil)
	v.ByOutcome = by(fams, "scorer_events_total", "outcome")
	v.ByThreshold = by(fams, "scorer_crossings_total", "model", "threshold")
	if f := fams["scorer_rule_version"]; f != nil {
		for _, m := range f.Metric {
			if value(m) == 1 {
				v.RuleVersion = label(m, "version")
			}
		}
	}
	now := sample{at: v.ReadAt, events: v.EventsTotal, crossings: v.Crossings}
	s.liveMu.Lock()
	prev := s.lastLive
	s.lastLive = &now
	s.liveMu.Unlock()
	if prev != nil {
		if dt := now.at.Sub(prev.at).Seconds(); dt > 0 && now.events >= prev.events {
			eps := (now.events - prev.events) / dt
			cpm := (now.crossings - prev.crossings) / dt * 60
			v.EventsPerSec, v.CrossingsMin = &eps, &cpm
		}
	}
	reply(w, v)
}
