package demo

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics is one scrape of a service's /metrics, by family name.
type Metrics map[string]*dto.MetricFamily

// Scrape reads base/metrics in Prometheus' text format.
func Scrape(ctx context.Context, base string) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s/metrics: %s", base, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s/metrics: %w", base, err)
	}
	return fams, nil
}

// Sample is one series of a family.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Samples lists the series of a counter, gauge or untyped family, sorted
// by their labels.
func (m Metrics) Samples(name string) []Sample {
	f := m[name]
	if f == nil {
		return nil
	}
	out := make([]Sample, 0, len(f.GetMetric()))
	for _, x := range f.GetMetric() {
		s := Sample{Labels: map[string]string{}, Value: value(x)}
		for _, l := range x.GetLabel() {
			s.Labels[l.GetName()] = l.GetValue()
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return labelKey(out[i].Labels) < labelKey(out[j].Labels) })
	return out
}

// Sum adds the series of name whose labels have the given values, given
// as pairs: Sum("scorer_events_total", "outcome", "scored").
func (m Metrics) Sum(name string, pairs ...string) float64 {
	t := 0.0
	for _, s := range m.Samples(name) {
		ok := true
		for i := 0; i+1 < len(pairs); i += 2 {
			ok = ok && s.Labels[pairs[i]] == pairs[i+1]
		}
		if ok {
			t += s.Value
		}
	}
	return t
}

func value(x *dto.Metric) float64 {
	switch {
	case x.Counter != nil:
		return x.Counter.GetValue()
	case x.Gauge != nil:
		return x.Gauge.GetValue()
	case x.Untyped != nil:
		return x.Untyped.GetValue()
	}
	return 0
}

// labelKey orders label sets as the text format writes them: by name.
func labelKey(ls map[string]string) string {
	names := make([]string, 0, len(ls))
	for n := range ls {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s=%q,", n, ls[n])
	}
	return b.String()
}
