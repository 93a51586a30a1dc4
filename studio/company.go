package studio

import (
	"net/http"
	"sort"
	"time"

	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/rules"
)

// companies holds the company models' results over the history, from
// backtest.CompanyScores: the code the backtest's company lines come from.
type companies struct {
	scores    map[string][]accounts.Score // by company, in model order
	crossings map[[2]string][]accounts.Crossing
	of        map[string]string // contact -> its company now
	top       []CompanySummary
}

// loadCompanies runs the company models over the history once, at start.
func (s *Server) loadCompanies() error {
	in, err := s.cfg.Open()
	if err != nil {
		return err
	}
	defer in.Close()
	scores, crossings, err := backtest.CompanyScores(s.engine, in, time.Time{})
	if err != nil {
		return err
	}
	c := &companies{scores: map[string][]accounts.Score{}, crossings: crossings, of: map[string]string{}}
	for _, sc := range scores {
		c.scores[sc.CompanyID] = append(c.scores[sc.CompanyID], sc)
		for _, m := range sc.Contacts {
			c.of[m.ContactID] = sc.CompanyID
		}
	}
	first := s.set.Companies[0].Name
	for _, sc := range scores {
		if sc.Model == first {
			c.top = append(c.top, CompanySummary{CompanyID: sc.CompanyID, Model: sc.Model, Score: rules.Float(sc.Score),
				Members: len(sc.Contacts), Crossings: len(crossings[[2]string{sc.CompanyID, sc.Model}])})
		}
	}
	sort.SliceStable(c.top, func(i, j int) bool {
		if c.top[i].Score != c.top[j].Score {
			return c.top[i].Score > c.top[j].Score
		}
		return c.top[i].CompanyID < c.top[j].CompanyID
	})
	if len(c.top) > topCompanies {
		c.top = c.top[:topCompanies]
	}
	s.companies = c
	return nil
}

// topCompanies is how many companies the overview lists.
const topCompanies = 10

// CompanySummary is a company on the overview: its score in the first
// company model.
type CompanySummary struct {
	CompanyID string  `json:"company_id"`
	Model     string  `json:"model"`
	Score     float64 `json:"score"`
	Members   int     `json:"members"`
	Crossings int     `json:"crossings"`
}

// CompanyView is GET /api/companies/{id}: per company model, the score
// taken apart as `scorer explain --company` does, from the backtest's
// company run.
type CompanyView struct {
	CompanyID    string         `json:"company_id"`
	RulesVersion string         `json:"rules_version"`
	Models       []CompanyModel `json:"models"`
}

// CompanyModel is a company's score in one company model.
type CompanyModel struct {
	Model           string          `json:"model"`
	From            string          `json:"from"`
	Rollup          string          `json:"rollup"`
	MinContactScore float64         `json:"min_contact_score"`
	Score           float64         `json:"score"`
	RollupPoints    float64         `json:"rollup_points"`
	CoveragePoints  float64         `json:"coverage_points"`
	Coverage        []string        `json:"coverage"`
	Thresholds      []Threshold     `json:"thresholds"`
	Members         []CompanyMember `json:"members"`
	Crossings       []CompanyCross  `json:"crossings"`
}

// CompanyMember is a member's part in a company score.
type CompanyMember struct {
	ContactID string  `json:"contact_id"`
	Score     float64 `json:"score"`
	Role      string  `json:"role"`
	Counted   bool    `json:"counted"`
	InRollup  bool    `json:"in_rollup"`
}

// CompanyCross is a company crossing of a threshold.
type CompanyCross struct {
	Threshold string    `json:"threshold"`
	At        time.Time `json:"at"`
	Score     float64   `json:"score"`
	ContactID string    `json:"contact_id"`
	EventID   string    `json:"event_id"`
}

func (s *Server) apiCompany(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.engine == nil {
		fail(w, http.StatusConflict, "the live rules have problems; fix them first (see the overview)")
		return
	}
	if s.companies == nil {
		fail(w, http.StatusNotFound, "the live rules have no company models (level: company); see docs/accounts.md")
		return
	}
	scores := s.companies.scores[id]
	if scores == nil {
		fail(w, http.StatusNotFound, "no company %q has members in the history (%s)", id, s.cfg.Source)
		return
	}
	v := CompanyView{CompanyID: id, RulesVersion: s.set.Version, Models: []CompanyModel{}}
	for _, sc := range scores {
		m := s.set.Company(sc.Model)
		cm := CompanyModel{Model: sc.Model, From: m.From, Rollup: string(m.Rollup), MinContactScore: rules.Float(m.MinContactScore),
			Score: rules.Float(sc.Score), RollupPoints: rules.Float(sc.Rollup), CoveragePoints: rules.Float(sc.CoveragePoints),
			Coverage: append([]string{}, sc.Coverage...), Thresholds: []Threshold{}, Members: []CompanyMember{}, Crossings: []CompanyCross{}}
		for _, th := range m.Thresholds {
			cm.Thresholds = append(cm.Thresholds, Threshold{Name: th.Name, At: rules.Float(th.At), RearmBelow: rules.Float(th.RearmBelow)})
		}
		for _, c := range sc.Contacts {
			cm.Members = append(cm.Members, CompanyMember{ContactID: c.ContactID, Score: rules.Float(c.Score), Role: c.Role, Counted: c.Counted, InRollup: c.InRollup})
		}
		for _, x := range s.companies.crossings[[2]string{id, sc.Model}] {
			cm.Crossings = append(cm.Crossings, CompanyCross{Threshold: x.Threshold.Name, At: x.At, Score: rules.Float(x.Score), ContactID: x.ContactID, EventID: x.EventID})
		}
		v.Models = append(v.Models, cm)
	}
	reply(w, v)
}
