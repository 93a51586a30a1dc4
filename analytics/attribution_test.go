package analytics

import (
	"context"
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"testing"
	"time"
)

var synthStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// refAttribution is an independent reading of the spec, written for
// clarity rather than speed: for each distinct conversion, collect the
// contact's other-type touches inside the window and apply the shares with
// explicit cases.
func refAttribution(h SyntheticHistory, q AttributionQuery) AttributionReport {
	q, _ = q.withDefaults()
	seen := map[string]bool{}
	byContact := map[string][]Touch{}
	for _, t := range h.Touches {
		if seen[t.EventID] {
			continue
		}
		seen[t.EventID] = true
		byContact[t.ContactID] = append(byContact[t.ContactID], t)
	}
	credit := map[string]float64{}
	convs := map[string]int64{}
	var rep AttributionReport
	for contact, evs := range byContact {
		for _, c := range evs {
			if c.Type != q.Conversion || (!q.From.IsZero() && c.OccurredAt.Before(q.From)) || (!q.To.IsZero() && !c.OccurredAt.Before(q.To)) {
				continue
			}
			rep.Conversions++
			var ts []Touch
			for _, t := range evs {
				if t.Type != q.Conversion && t.OccurredAt.After(c.OccurredAt.Add(-q.Lookback)) && t.OccurredAt.Before(c.OccurredAt) {
					ts = append(ts, t)
				}
			}
			if len(ts) == 0 {
				rep.NoTouch++
				continue
			}
			sort.Slice(ts, func(i, j int) bool {
				if !ts[i].OccurredAt.Equal(ts[j].OccurredAt) {
					return ts[i].OccurredAt.Before(ts[j].OccurredAt)
				}
				return ts[i].EventID < ts[j].EventID
			})
			shares := refShares(q.Model, ts, c.OccurredAt, refKeyTouch(h, contact, evs, ts, c.OccurredAt))
			got := map[string]bool{}
			for i, t := range ts {
				k := refKey(t, q.By)
				credit[k] += shares[i]
				if shares[i] > 0 && !got[k] {
					got[k] = true
					convs[k]++
				}
			}
		}
	}
	rep.Attributed = rep.Conversions - rep.NoTouch
	for k, v := range credit {
		rep.Rows = append(rep.Rows, AttributionRow{Key: k, Credit: v, Conversions: convs[k]})
	}
	return rep
}

func refKey(t Touch, by string) string {
	var k string
	switch by {
	case "type":
		k = t.Type
	case "channel":
		k = t.Channel
	case "campaign":
		k = t.Campaign
	default:
		var m map[string]any
		_ = json.Unmarshal([]byte(t.Properties), &m)
		switch v := m[by].(type) {
		case string:
			k = v
		case float64:
			k = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	if k == "" {
		return NoneKey
	}
	return k
}

// refKeyTouch: index in ts of the touch behind the contact's first crossing
// before the conversion, or -1.
func refKeyTouch(h SyntheticHistory, contact string, evs, ts []Touch, conv time.Time) int {
	var firstID string
	var firstAt time.Time
	for _, x := range h.Crossings {
		if x.ContactID != contact {
			continue
		}
		at := x.CrossedAt
		for _, e := range evs {
			if e.EventID == x.EventID {
				at = e.OccurredAt
			}
		}
		if !at.Before(conv) {
			continue
		}
		if firstID == "" || at.Before(firstAt) || (at.Equal(firstAt) && x.EventID < firstID) {
			firstID, firstAt = x.EventID, at
		}
	}
	for i, t := range ts {
		if t.EventID == firstID {
			return i
		}
	}
	return -1
}

func refShares(m Model, ts []Touch, conv time.Time, key int) []float64 {
	n := len(ts)
	out := make([]float64, n)
	even := func(total float64) {
		for i := range out {
			out[i] += total / float64(n)
		}
	}
	switch {
	case m == ModelFirst:
		out[0] = 1
	case m == ModelLast:
		out[n-1] = 1
	case m == ModelLinear, n == 1:
		even(1)
	case n == 2 && (m == ModelU || m == ModelW):
		out[0], out[1] = .5, .5
	case m == ModelU:
		out[0], out[n-1] = .4, .4
		for i := 1; i < n-1; i++ {
			out[i] = .2 / float64(n-2)
		}
	case m == ModelW:
		out[0], out[n-1] = .3, .3
		if key > 0 && key < n-1 {
			out[key] += .3
			if n == 3 {
				even(.1)
			}
			for i := 1; i < n-1; i++ {
				if i != key {
					out[i] += .1 / float64(n-3)
				}
			}
		} else {
			even(.3)
			for i := 1; i < n-1; i++ {
				out[i] += .1 / float64(n-2)
			}
		}
	case m == ModelTimeDecay:
		sum := 0.0
		for i, t := range ts {
			out[i] = math.Pow(0.5, conv.Sub(t.OccurredAt).Hours()/(7*24))
			sum += out[i]
		}
		for i := range out {
			out[i] /= sum
		}
	}
	return out
}

func compareAttribution(t *testing.T, got, want AttributionReport) {
	t.Helper()
	if got.Conversions != want.Conversions || got.NoTouch != want.NoTouch || got.Attributed != want.Attributed {
		t.Fatalf("conversions %d / no touch %d / attributed %d, want %d / %d / %d",
			got.Conversions, got.NoTouch, got.Attributed, want.Conversions, want.NoTouch, want.Attributed)
	}
	wm := map[string]AttributionRow{}
	for _, r := range want.Rows {
		wm[r.Key] = r
	}
	sum := 0.0
	for _, r := range got.Rows {
		sum += r.Credit
		w, ok := wm[r.Key]
		if !ok {
			t.Errorf("unexpected key %q", r.Key)
			continue
		}
		if math.Abs(w.Credit-r.Credit) > 1e-6 || w.Conversions != r.Conversions {
			t.Errorf("key %q: credit %.6f over %d conversions, want %.6f over %d", r.Key, r.Credit, r.Conversions, w.Credit, w.Conversions)
		}
		delete(wm, r.Key)
	}
	for k := range wm {
		t.Errorf("missing key %q", k)
	}
	if math.Abs(sum-float64(got.Attributed)) > 1e-6 {
		t.Errorf("credits sum to %.6f, want the %d attributed conversions", sum, got.Attributed)
	}
}

// attributionCases covers every model, each kind of grouping and a window.
func attributionCases() []AttributionQuery {
	var qs []AttributionQuery
	for _, m := range Models {
		qs = append(qs, AttributionQuery{Model: m})
	}
	from, to := synthStart.Add(40*24*time.Hour), synthStart.Add(120*24*time.Hour)
	for _, by := range []string{"channel", "campaign", "utm_source", "visits"} {
		qs = append(qs, AttributionQuery{Model: ModelW, By: by, From: from, To: to, Lookback: 30 * 24 * time.Hour})
		qs = append(qs, AttributionQuery{Model: ModelU, By: by})
	}
	qs = append(qs, AttributionQuery{Model: ModelTimeDecay, Conversion: "form_submit", From: from})
	qs = append(qs, AttributionQuery{Model: ModelLinear, Conversion: "no_such_type"})
	return qs
}

// loadSynthetic writes h, with a tenth of the rows replayed, as a consumer
// restart would.
func loadSynthetic(t testing.TB, w *Writer, h SyntheticHistory) {
	t.Helper()
	must(t, w.AddTouches(h.Touches...))
	for i := 0; i < len(h.Touches); i += 10 {
		must(t, w.AddTouches(h.Touches[i]))
	}
	must(t, w.AddCrossings(h.Crossings...))
	must(t, w.AddCrossings(h.Crossings...))
	must(t, w.Flush(context.Background()))
}

func TestAttributionMatchesReference(t *testing.T) {
	s := openTestStore(t)
	h := Synthetic(7, 400, 12, synthStart)
	w := s.NewWriter(WriterOptions{BatchSize: 2000})
	loadSynthetic(t, w, h)
	must(t, w.Close(context.Background()))
	checkAttribution(t, s, h)
}

func checkAttribution(t *testing.T, s *Store, h SyntheticHistory) {
	for _, q := range attributionCases() {
		t.Run(string(q.Model)+"/"+q.By+"/"+q.Conversion, func(t *testing.T) {
			got, err := s.Attribution(context.Background(), q)
			must(t, err)
			want := refAttribution(h, q)
			compareAttribution(t, got, want)
			if q.Conversion != "no_such_type" && got.Attributed == 0 {
				t.Fatal("the case attributes nothing: it tests nothing")
			}
		})
	}
}
