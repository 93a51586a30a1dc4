package studio

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

// PreviewRequest is POST /api/preview: the live rules with one file
// replaced (or added) by Text.
type PreviewRequest struct {
	File string `json:"file"`
	Text string `json:"text"`
}

// Mover is a (contact, model) whose score or crossings change.
type Mover struct {
	ContactID       string   `json:"contact_id"`
	Model           string   `json:"model"`
	Old             *float64 `json:"old"`
	New             *float64 `json:"new"`
	Delta           float64  `json:"delta"`
	NewlyCrosses    []string `json:"newly_crosses"`
	NoLongerCrosses []string `json:"no_longer_crosses"`
}

// ThresholdChange lists who newly crosses and who no longer crosses a
// threshold at least once over the history.
type ThresholdChange = thresholdChangeOf[Mover]

// thresholdChangeOf lists the rows (contacts, companies) that newly cross
// and no longer cross a threshold at least once over the history; the
// lists are cut to maxRows, the totals are not.
type thresholdChangeOf[T any] struct {
	Threshold     string `json:"threshold"`
	Newly         []T    `json:"newly"`
	NoLonger      []T    `json:"no_longer"`
	NewlyTotal    int    `json:"newly_total"`
	NoLongerTotal int    `json:"no_longer_total"`
}

// thresholdChanges groups one model's changes by the thresholds they newly
// cross and no longer cross, one entry a threshold name of after then
// before in their order; each calls yield once a change. A list keeps its
// first maxRows rows in change order, then is sorted by sortRows.
func thresholdChanges[T any](after, before []Threshold, each func(yield func(newly, noLonger []string, row T)), sortRows func([]T)) []thresholdChangeOf[T] {
	byThreshold := map[string]*thresholdChangeOf[T]{}
	var order []string
	for _, t := range append(append([]Threshold(nil), after...), before...) {
		if byThreshold[t.Name] == nil {
			byThreshold[t.Name] = &thresholdChangeOf[T]{Threshold: t.Name, Newly: []T{}, NoLonger: []T{}}
			order = append(order, t.Name)
		}
	}
	each(func(newly, noLonger []string, row T) {
		for _, t := range newly {
			tc := byThreshold[t]
			tc.NewlyTotal++
			if len(tc.Newly) < maxRows {
				tc.Newly = append(tc.Newly, row)
			}
		}
		for _, t := range noLonger {
			tc := byThreshold[t]
			tc.NoLongerTotal++
			if len(tc.NoLonger) < maxRows {
				tc.NoLonger = append(tc.NoLonger, row)
			}
		}
	})
	var out []thresholdChangeOf[T]
	for _, t := range order {
		tc := byThreshold[t]
		sortRows(tc.Newly)
		sortRows(tc.NoLonger)
		out = append(out, *tc)
	}
	return out
}

// PreviewModel is one model before and after.
type PreviewModel struct {
	Name             string            `json:"name"`
	ThresholdsBefore []Threshold       `json:"thresholds_before"`
	Thresholds       []Threshold       `json:"thresholds"`
	Before           []Bin             `json:"before"`
	After            []Bin             `json:"after"`
	WeeksBefore      []Week            `json:"weeks_before"`
	WeeksAfter       []Week            `json:"weeks_after"`
	Changes          []ThresholdChange `json:"changes"`
}

// PreviewResult is the answer of POST /api/preview.
type PreviewResult struct {
	OK              bool           `json:"ok"`
	File            string         `json:"file"`
	Problems        []Problem      `json:"problems"`
	RulesVersion    string         `json:"rules_version"`
	NewRulesVersion string         `json:"new_rules_version,omitempty"`
	Contacts        int            `json:"contacts"`
	Changed         int            `json:"changed"`
	Moved           int            `json:"moved"`
	NewlyCrossing   int            `json:"newly_crossing"`
	NoLongerCrosses int            `json:"no_longer_crossing"`
	Models          []PreviewModel `json:"models"`
	Movers          []Mover        `json:"movers"`
	MoversTotal     int            `json:"movers_total"`
	// Companies is the effect on the company models (null without any).
	Companies *PreviewCompanies `json:"companies"`
	ElapsedMS int64             `json:"elapsed_ms"`
}

// Lists are cut to this many rows (totals are given).
const maxRows = 500

func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 2*MaxRuleBytes+4096)
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fail(w, http.StatusRequestEntityTooLarge, "the request is over %d KiB: a rule file may be at most %d KiB", tooBig.Limit>>10, MaxRuleBytes>>10)
			return false
		}
		fail(w, http.StatusBadRequest, "the request is not the JSON this endpoint takes: %v", err)
		return false
	}
	return true
}

// checkRuleFile validates the name and size of an edited rule file.
func checkRuleFile(name, text string) error {
	if len(text) > MaxRuleBytes {
		return fmt.Errorf("%s is %d KiB: a rule file may be at most %d KiB", name, len(text)>>10, MaxRuleBytes>>10)
	}
	if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
		return fmt.Errorf("file name %q: want a plain name ending in .yaml, such as engagement.yaml", name)
	}
	return nil
}

func (s *Server) apiPreview(w http.ResponseWriter, r *http.Request) {
	var req PreviewRequest
	if !s.readJSON(w, r, &req) {
		return
	}
	if err := checkRuleFile(req.File, req.Text); err != nil {
		code := http.StatusBadRequest
		if len(req.Text) > MaxRuleBytes {
			code = http.StatusRequestEntityTooLarge
		}
		fail(w, code, "%v", err)
		return
	}
	if s.engine == nil {
		fail(w, http.StatusConflict, "the live rules have problems; a preview compares against them, so fix them first (see the overview)")
		return
	}
	release, ok := s.busy(r)
	if !ok {
		fail(w, http.StatusServiceUnavailable, "the request was cancelled while another preview was running")
		return
	}
	defer release()
	res, err := s.preview(req)
	if err != nil {
		fail(w, http.StatusInternalServerError, "preview: %v", err)
		return
	}
	reply(w, res)
}

// candidate loads the live rules with one file replaced, in a temporary
// directory (the live files are only read); problems name the file as the
// user knows it.
func (s *Server) candidate(req PreviewRequest) (*scoring.Engine, []Problem, error) {
	dir, err := os.MkdirTemp("", "studio-preview-*")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	names := map[string]string{filepath.Join(dir, req.File): req.File}
	for _, f := range s.files {
		if f.Name == req.File {
			continue
		}
		p := filepath.Join(dir, f.Name)
		if err := os.WriteFile(p, []byte(f.Text), 0o600); err != nil {
			return nil, nil, err
		}
		names[p] = f.Name
	}
	if err := os.WriteFile(filepath.Join(dir, req.File), []byte(req.Text), 0o600); err != nil {
		return nil, nil, err
	}
	rename := func(p string) string {
		if n, ok := names[p]; ok {
			return n
		}
		return strings.ReplaceAll(p, dir+string(filepath.Separator), "")
	}
	set, err := rules.Load(dir)
	if err != nil {
		return nil, problemsOf(err, rename), nil
	}
	e, err := scoring.NewEngine(set)
	if err != nil {
		return nil, []Problem{{File: req.File, Msg: err.Error(), Text: req.File + ": " + err.Error()}}, nil
	}
	return e, nil, nil
}

func (s *Server) preview(req PreviewRequest) (PreviewResult, error) {
	start := time.Now()
	res := PreviewResult{File: req.File, RulesVersion: s.set.Version, Problems: []Problem{}, Models: []PreviewModel{}, Movers: []Mover{}}
	e, probs, err := s.candidate(req)
	if err != nil || probs != nil {
		if probs != nil {
			res.Problems = probs
		}
		return res, err
	}
	res.OK, res.NewRulesVersion = true, e.Rules.Version
	// Models score independently of each other, and every model but the
	// edited file's comes from a live file unchanged: only the edited
	// file's models are scored; the others' lines are the live backtest's.
	edited := &rules.Set{Version: e.Rules.Version}
	kept := map[string]bool{}
	for _, m := range e.Rules.Models {
		if filepath.Base(m.File) == req.File {
			edited.Models = append(edited.Models, m)
		} else {
			kept[m.Name] = true
		}
	}
	ee, err := scoring.NewEngine(edited)
	if err != nil {
		return res, err
	}
	var lines []backtest.Line
	sum, err := s.history.Run(ee, backtest.Options{NoGroups: true}, func(l backtest.Line) error {
		lines = append(lines, l)
		return nil
	})
	if err != nil {
		return res, err
	}
	for _, l := range s.lines {
		if kept[l.Model] {
			lines = append(lines, l)
		}
	}
	c := backtest.CompareLines(s.lines, lines, s.sum, sum)
	res.fill(s.set, e.Rules, c)
	if res.Companies, err = s.previewCompanies(e.Rules, req.File); err != nil {
		return res, fmt.Errorf("company models: %w", err)
	}
	res.ElapsedMS = time.Since(start).Milliseconds()
	return res, nil
}

// fill turns a comparison into what the preview page shows.
func (res *PreviewResult) fill(cur, next *rules.Set, c backtest.Comparison) {
	res.Contacts, res.Changed, res.Moved = c.Summary.Contacts, c.Summary.Changed, c.Summary.Moved
	res.NewlyCrossing, res.NoLongerCrosses = c.Summary.NewlyCrossing, c.Summary.NoLongerCrosses
	before, after := byModel(c.Old), byModel(c.New)
	models := map[string][2]*rules.Model{}
	var names []string
	for _, m := range cur.Models {
		models[m.Name] = [2]*rules.Model{m, nil}
		names = append(names, m.Name)
	}
	for _, m := range next.Models {
		pair, ok := models[m.Name]
		if !ok {
			names = append(names, m.Name)
		}
		pair[1] = m
		models[m.Name] = pair
	}
	sort.Strings(names)
	for _, name := range names {
		pair := models[name]
		pm := PreviewModel{Name: name, ThresholdsBefore: []Threshold{}, Thresholds: []Threshold{}}
		var all []Threshold
		if pair[0] != nil {
			pm.ThresholdsBefore = thresholdsOf(pair[0])
			all = append(all, pm.ThresholdsBefore...)
		}
		if pair[1] != nil {
			pm.Thresholds = thresholdsOf(pair[1])
			all = append(all, pm.Thresholds...)
		}
		b, a := before[name], after[name]
		e := edges(append(scoresOf(b), scoresOf(a)...), all)
		pm.Before, pm.After = histogram(scoresOf(b), e), histogram(scoresOf(a), e)
		pm.WeeksBefore, pm.WeeksAfter = weeks(b), weeks(a)
		pm.Changes = append(pm.Changes, thresholdChanges(pm.Thresholds, pm.ThresholdsBefore, func(yield func([]string, []string, Mover)) {
			for _, ch := range c.Changes {
				if ch.Model == name {
					yield(ch.NewlyCrosses, ch.NoLongerCrosses, moverOf(ch))
				}
			}
		}, sortMovers)...)
		res.Models = append(res.Models, pm)
	}
	// The largest moves first.
	moved := make([]backtest.Change, 0, len(c.Changes))
	for _, ch := range c.Changes {
		if ch.Delta != 0 || ch.Old == nil || ch.New == nil {
			moved = append(moved, ch)
		}
	}
	sort.SliceStable(moved, func(i, j int) bool {
		a, b := abs(moved[i].Delta), abs(moved[j].Delta)
		if a != b {
			return a > b
		}
		if moved[i].ContactID != moved[j].ContactID {
			return moved[i].ContactID < moved[j].ContactID
		}
		return moved[i].Model < moved[j].Model
	})
	res.MoversTotal = len(moved)
	for i := 0; i < len(moved) && i < maxRows; i++ {
		res.Movers = append(res.Movers, moverOf(moved[i]))
	}
}

func moverOf(c backtest.Change) Mover {
	m := Mover{ContactID: c.ContactID, Model: c.Model, Old: c.Old, New: c.New, Delta: c.Delta, NewlyCrosses: c.NewlyCrosses, NoLongerCrosses: c.NoLongerCrosses}
	if m.NewlyCrosses == nil {
		m.NewlyCrosses = []string{}
	}
	if m.NoLongerCrosses == nil {
		m.NoLongerCrosses = []string{}
	}
	return m
}

func sortMovers(ms []Mover) {
	sort.Slice(ms, func(i, j int) bool { return ms[i].ContactID < ms[j].ContactID })
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// SaveRequest is POST /api/preview/save: write Text to Path, a new file.
type SaveRequest struct {
	Path string `json:"path"`
	Text string `json:"text"`
}

// apiSave writes an edited rule file where the user says: never over an
// existing file, never into the live rules' directories, and only if it
// loads without problems.
func (s *Server) apiSave(w http.ResponseWriter, r *http.Request) {
	var req SaveRequest
	if !s.readJSON(w, r, &req) {
		return
	}
	if req.Path == "" {
		fail(w, http.StatusBadRequest, "say where to save: a new file path such as /tmp/engagement-v2.yaml")
		return
	}
	path, err := filepath.Abs(req.Path)
	if err != nil {
		fail(w, http.StatusBadRequest, "path %q: %v", req.Path, err)
		return
	}
	if err := checkRuleFile(filepath.Base(path), req.Text); err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	if s.isLive(path) {
		fail(w, http.StatusForbidden, "%s is with the live rules: the studio never writes there; choose another directory", path)
		return
	}
	// The file on its own, as `scorer rules check FILE` would see it.
	if _, err := rules.Parse(filepath.Base(path), []byte(req.Text)); err != nil {
		fail(w, http.StatusUnprocessableEntity, "not saved: the file has problems:\n%v", err)
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			fail(w, http.StatusConflict, "%s already exists: the studio only writes new files", path)
			return
		}
		fail(w, http.StatusBadRequest, "cannot create %s: %v", path, err)
		return
	}
	_, err = f.WriteString(req.Text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fail(w, http.StatusInternalServerError, "writing %s: %v", path, err)
		return
	}
	s.cfg.Log.Info().Str("path", path).Msg("studio saved a rule file")
	reply(w, map[string]any{"saved": path, "bytes": len(req.Text)})
}

// isLive says whether path is a live rule file or inside a live rule
// directory.
func (s *Server) isLive(path string) bool {
	real := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		if e, err := filepath.EvalSymlinks(a); err == nil {
			return e
		}
		return a
	}
	dir := real(filepath.Dir(path))
	target := filepath.Join(dir, filepath.Base(path))
	for _, p := range s.cfg.Rules {
		lp := real(p)
		if st, err := os.Stat(lp); err == nil && st.IsDir() {
			if dir == lp {
				return true
			}
			continue
		}
		if target == lp {
			return true
		}
	}
	for _, f := range s.files {
		if real(f.Path) == target {
			return true
		}
	}
	return false
}
