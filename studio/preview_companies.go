package studio

import (
	"path/filepath"
	"sort"
	"time"

	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

// PreviewCompanies is a preview's effect on the company models: the
// backtest's company lines under the live rules and under the edited ones,
// compared as `scorer rescore` compares them.
type PreviewCompanies struct {
	// Scored is false when the edited file holds no company model and no
	// model a company model rolls up: the company scores cannot move.
	Scored           bool                  `json:"scored"`
	Companies        int                   `json:"companies"`
	Changed          int                   `json:"changed"`
	Moved            int                   `json:"moved"`
	NewlyCrossing    int                   `json:"newly_crossing"`
	NoLongerCrossing int                   `json:"no_longer_crossing"`
	Models           []PreviewCompanyModel `json:"models"`
	// Movers are the (company, company model) pairs whose score or
	// crossings change: crossing changes first, then the largest moves.
	Movers      []backtest.CompanyChange `json:"movers"`
	MoversTotal int                      `json:"movers_total"`
	ElapsedMS   int64                    `json:"elapsed_ms"`
}

// PreviewCompanyModel is one company model before and after.
type PreviewCompanyModel struct {
	Name             string                   `json:"name"`
	ThresholdsBefore []Threshold              `json:"thresholds_before"`
	Thresholds       []Threshold              `json:"thresholds"`
	Before           []Bin                    `json:"before"`
	After            []Bin                    `json:"after"`
	Changes          []CompanyThresholdChange `json:"changes"`
}

// CompanyThresholdChange lists the companies that newly cross and no
// longer cross a company threshold at least once over the history.
type CompanyThresholdChange = thresholdChangeOf[backtest.CompanyChange]

// touchesCompanies says whether the edited file, before or after, holds a
// company model or a contact model that a company model rolls up.
func touchesCompanies(cur, next *rules.Set, file string) bool {
	in := func(f string) bool { return filepath.Base(f) == file }
	for _, set := range []*rules.Set{cur, next} {
		from := map[string]bool{}
		for _, m := range set.Companies {
			if in(m.File) {
				return true
			}
			from[m.From] = true
		}
		for _, m := range set.Models {
			if from[m.Name] && in(m.File) {
				return true
			}
		}
	}
	return false
}

// companyEngine is the part of a rule set the company models need: the
// contact models they roll up and the company models. Scoring the other
// contact models would change nothing of a company's score.
func companyEngine(set *rules.Set) (*scoring.Engine, error) {
	from := map[string]bool{}
	for _, m := range set.Companies {
		from[m.From] = true
	}
	part := &rules.Set{Version: set.Version, Companies: set.Companies}
	for _, m := range set.Models {
		if from[m.Name] {
			part.Models = append(part.Models, m)
		}
	}
	return scoring.NewEngine(part)
}

// previewCompanies scores the edited rules' company models over the held
// history and compares them with the live rules' (kept from the start).
func (s *Server) previewCompanies(next *rules.Set, file string) (*PreviewCompanies, error) {
	if len(s.set.Companies) == 0 && len(next.Companies) == 0 {
		return nil, nil
	}
	start := time.Now()
	pc := &PreviewCompanies{Models: []PreviewCompanyModel{}, Movers: []backtest.CompanyChange{}}
	var old []backtest.CompanyLine
	if s.companies != nil {
		old = s.companies.lines
	}
	now := old
	if touchesCompanies(s.set, next, file) {
		pc.Scored = true
		now = nil
		if len(next.Companies) > 0 {
			e, err := companyEngine(next)
			if err != nil {
				return nil, err
			}
			now = backtest.CompanyLines(s.history.CompanyScores(e, time.Time{}))
		}
	}
	changes := backtest.CompareCompanies(old, now)
	companies := map[string]bool{}
	for _, l := range now {
		companies[l.CompanyID] = true
	}
	pc.Companies, pc.Changed, pc.MoversTotal = len(companies), len(changes), len(changes)
	for _, c := range changes {
		if c.Delta != 0 || c.Old == nil || c.New == nil {
			pc.Moved++
		}
		if len(c.NewlyCrosses) > 0 {
			pc.NewlyCrossing++
		}
		if len(c.NoLongerCrosses) > 0 {
			pc.NoLongerCrossing++
		}
	}
	pc.Movers = append(pc.Movers, changes[:min(len(changes), maxRows)]...)
	pc.Models = companyModels(s.set, next, old, now, changes)
	pc.ElapsedMS = time.Since(start).Milliseconds()
	return pc, nil
}

func companyModels(cur, next *rules.Set, old, now []backtest.CompanyLine, changes []backtest.CompanyChange) []PreviewCompanyModel {
	models := map[string][2]*rules.CompanyModel{}
	var names []string
	for i, set := range []*rules.Set{cur, next} {
		for _, m := range set.Companies {
			pair, ok := models[m.Name]
			if !ok {
				names = append(names, m.Name)
			}
			pair[i] = m
			models[m.Name] = pair
		}
	}
	sort.Strings(names)
	scores := func(ls []backtest.CompanyLine, model string) []float64 {
		var out []float64
		for _, l := range ls {
			if l.Model == model {
				out = append(out, l.Score)
			}
		}
		return out
	}
	var out []PreviewCompanyModel
	for _, name := range names {
		pair := models[name]
		pm := PreviewCompanyModel{Name: name, ThresholdsBefore: []Threshold{}, Thresholds: []Threshold{}, Changes: []CompanyThresholdChange{}}
		if pair[0] != nil {
			pm.ThresholdsBefore = companyThresholds(pair[0])
		}
		if pair[1] != nil {
			pm.Thresholds = companyThresholds(pair[1])
		}
		b, a := scores(old, name), scores(now, name)
		e := edges(append(append([]float64(nil), b...), a...), append(append([]Threshold(nil), pm.ThresholdsBefore...), pm.Thresholds...))
		pm.Before, pm.After = histogram(b, e), histogram(a, e)
		pm.Changes = append(pm.Changes, thresholdChanges(pm.Thresholds, pm.ThresholdsBefore, func(yield func([]string, []string, backtest.CompanyChange)) {
			for _, c := range changes {
				if c.Model == name {
					yield(c.NewlyCrosses, c.NoLongerCrosses, c)
				}
			}
		}, func(l []backtest.CompanyChange) {
			sort.Slice(l, func(i, j int) bool { return l[i].CompanyID < l[j].CompanyID })
		})...)
		out = append(out, pm)
	}
	return out
}

func companyThresholds(m *rules.CompanyModel) []Threshold {
	out := make([]Threshold, 0, len(m.Thresholds))
	for _, t := range m.Thresholds {
		out = append(out, Threshold{Name: t.Name, At: rules.Float(t.At), RearmBelow: rules.Float(t.RearmBelow)})
	}
	return out
}
