package studio

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/calibration"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

// CalibrationView is GET /api/calibration: each model's calibration at
// as_of against a conversion type, the (score, contacts, converted)
// buckets the threshold simulator works from, and, with ?simulate=, the
// crossings per week of one model with its first threshold moved.
type CalibrationView struct {
	Query      map[string]string      `json:"query"`
	Types      []string               `json:"types"` // event types in the history
	Report     *calibration.Report    `json:"report,omitempty"`
	Population calibration.Population `json:"population"`
	Buckets    map[string][]SimBucket `json:"buckets"`
	Thresholds map[string][]Threshold `json:"thresholds"`
	Simulated  *Simulation            `json:"simulated,omitempty"`
	Error      string                 `json:"error,omitempty"`
}

// SimBucket is the contacts of one score at as_of.
type SimBucket struct {
	Score     float64 `json:"score"`
	Contacts  int64   `json:"contacts"`
	Converted int64   `json:"converted"`
}

// Simulation is a model's crossings per week over the history with its
// first threshold at another score.
type Simulation struct {
	Model     string  `json:"model"`
	Threshold string  `json:"threshold"`
	At        float64 `json:"at"`
	Weeks     []Week  `json:"weeks"`
	Crossings int     `json:"crossings"`
}

// defaults picks a T0 in the middle of the history and a window to its end.
func (s *Server) calibrationDefaults() (asOf, window string) {
	first, last := s.history.Span()
	mid := first.Add(last.Sub(first) / 2).UTC().Truncate(24 * time.Hour)
	days := int(last.Sub(mid).Hours() / 24)
	days = max(1, min(days, 30))
	return mid.Format("2006-01-02"), fmt.Sprintf("%dd", days)
}

func (s *Server) apiCalibration(w http.ResponseWriter, r *http.Request) {
	if s.engine == nil {
		fail(w, http.StatusConflict, "the live rules have problems; fix them first (see the overview)")
		return
	}
	q := r.URL.Query()
	asOf, window := s.calibrationDefaults()
	if v := q.Get("as_of"); v != "" {
		asOf = v
	}
	if v := q.Get("window"); v != "" {
		window = v
	}
	conv := q.Get("conversion")
	bands := calibration.DefaultBands
	if v := q.Get("bands"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			fail(w, http.StatusBadRequest, "bands %q: want a whole number such as 10", v)
			return
		}
		bands = n
	}
	v := CalibrationView{
		Query: map[string]string{"as_of": asOf, "window": window, "conversion": conv, "bands": strconv.Itoa(bands)},
		Types: s.types, Buckets: map[string][]SimBucket{}, Thresholds: map[string][]Threshold{},
	}
	if conv == "" {
		v.Error = "choose the event type that counts as a conversion"
		reply(w, v)
		return
	}
	query, err := calibration.ParseQuery(asOf, conv, window, bands)
	if err != nil {
		v.Error = err.Error()
		reply(w, v)
		return
	}
	release, ok := s.busy(r)
	if !ok {
		fail(w, http.StatusServiceUnavailable, "the request was cancelled while another scoring was running")
		return
	}
	defer release()
	// The held history: the one every other page answers from, not the
	// file as it is now (it may have grown since it was read).
	history := calibration.Held(s.history)
	// One scoring gives the report and the simulator's buckets of the
	// same population.
	hist := map[string]map[float64]*SimBucket{}
	rep, _, pop, err := calibration.FromSourceEach(s.engine, history, query, nil, func(l *backtest.Line, conv bool) error {
		h := hist[l.Model]
		if h == nil {
			h = map[float64]*SimBucket{}
			hist[l.Model] = h
		}
		b := h[l.Score]
		if b == nil {
			b = &SimBucket{Score: l.Score}
			h[l.Score] = b
		}
		b.Contacts++
		if conv {
			b.Converted++
		}
		return nil
	})
	if err != nil {
		fail(w, http.StatusInternalServerError, "calibration: %v", err)
		return
	}
	for _, m := range s.set.Models {
		bs := []SimBucket{}
		for _, b := range hist[m.Name] {
			bs = append(bs, *b)
		}
		sort.Slice(bs, func(i, j int) bool { return bs[i].Score > bs[j].Score })
		v.Buckets[m.Name] = bs
		v.Thresholds[m.Name] = thresholdsOf(m)
	}
	v.Report, v.Population = &rep, pop
	if model, at := q.Get("simulate"), q.Get("at"); model != "" && at != "" {
		sim, err := s.simulate(model, at)
		if err != nil {
			v.Error = err.Error()
		} else {
			v.Simulated = sim
		}
	}
	reply(w, v)
}

// simulate re-scores the history with a model's first threshold at
// another score (its re-arm gap kept).
func (s *Server) simulate(model, at string) (*Simulation, error) {
	f, err := strconv.ParseFloat(at, 64)
	if err != nil {
		return nil, fmt.Errorf("threshold %q: want a number", at)
	}
	p, err := rules.ToPoints(f)
	if err != nil {
		return nil, fmt.Errorf("threshold %q: %w", at, err)
	}
	set := &rules.Set{Version: s.set.Version + "+sim"}
	var name string
	for _, m := range s.set.Models {
		if m.Name == model && len(m.Thresholds) > 0 {
			c := *m
			c.Thresholds = append([]rules.Threshold(nil), m.Thresholds...)
			gap := c.Thresholds[0].At - c.Thresholds[0].RearmBelow
			c.Thresholds[0].At, c.Thresholds[0].RearmBelow = p, p-gap
			name = c.Thresholds[0].Name
			sort.SliceStable(c.Thresholds, func(i, j int) bool { return c.Thresholds[i].At < c.Thresholds[j].At })
			m = &c
		}
		set.Models = append(set.Models, m)
	}
	if name == "" {
		return nil, fmt.Errorf("model %q: no such model with a threshold", model)
	}
	e, err := scoring.NewEngine(set)
	if err != nil {
		return nil, err
	}
	var lines []*backtest.Line
	_, err = s.history.Run(e, backtest.Options{NoGroups: true}, func(l backtest.Line) error {
		if l.Model == model {
			lines = append(lines, &l)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sim := &Simulation{Model: model, Threshold: name, At: f, Weeks: []Week{}}
	for _, wk := range weeks(lines) {
		if n := wk.Count[name]; n > 0 {
			sim.Weeks = append(sim.Weeks, Week{Week: wk.Week, Count: map[string]int{name: n}, Total: n})
			sim.Crossings += n
		}
	}
	return sim, nil
}

func (s *Server) apiFit(w http.ResponseWriter, r *http.Request) {
	if s.engine == nil {
		fail(w, http.StatusConflict, "the live rules have problems; fix them first (see the overview)")
		return
	}
	q := r.URL.Query()
	m := s.engine.Rules.Model(q.Get("model"))
	if m == nil {
		fail(w, http.StatusBadRequest, "model %q: no such model", q.Get("model"))
		return
	}
	query, err := calibration.ParseQuery(q.Get("as_of"), q.Get("conversion"), q.Get("window"), calibration.DefaultBands)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	release, ok := s.busy(r)
	if !ok {
		fail(w, http.StatusServiceUnavailable, "the request was cancelled while another scoring was running")
		return
	}
	defer release()
	var src []byte
	for _, f := range s.files {
		if f.Path == m.File {
			src = []byte(f.Text)
		}
	}
	res, err := calibration.Fit(s.engine, m, src, calibration.Held(s.history), calibration.FitOptions{
		Query: query, Lambda: calibration.DefaultLambda, MinConversions: calibration.DefaultMinConversions,
	}, nil)
	if err != nil {
		fail(w, http.StatusUnprocessableEntity, "fit %s: %v", m.Name, err)
		return
	}
	reply(w, map[string]any{"fit": res, "source": string(res.Source)})
}
