package studio

import (
	"net/http"
	"sort"
	"time"

	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/internal/dialect"
	"github.com/scorebridge/scorebridge/rules"
)

// companies holds the company models' results over the history, from
// backtest.CompanyScores: the code the backtest's company lines come from.
type companies struct {
	scores    map[string][]accounts.Score // by company, in model order
	crossings map[[2]string][]accounts.Crossing
	of        map[string]string      // contact -> its company now
	lines     []backtest.CompanyLine // the backtest's company lines (a preview compares them)
	top       []CompanySummary
}

func newCompanies(scores []accounts.Score, crossings map[[2]string][]accounts.Crossing) *companies {
	c := &companies{scores: map[string][]accounts.Score{}, crossings: crossings, of: map[string]string{}, lines: backtest.CompanyLines(scores, crossings)}
	for _, sc := range scores {
		c.scores[sc.CompanyID] = append(c.scores[sc.CompanyID], sc)
		for _, m := range sc.Contacts {
			c.of[m.ContactID] = sc.CompanyID
		}
	}
	return c
}

// topOf ranks the companies by their score in the first company model.
func topOf(set *rules.Set, c *companies) []CompanySummary {
	var top []CompanySummary
	first := set.Companies[0].Name
	for id, scores := range c.scores {
		for _, sc := range scores {
			if sc.Model != first {
				continue
			}
			top = append(top, CompanySummary{CompanyID: sc.CompanyID, Model: sc.Model, Score: rules.Float(sc.Score),
				Members: len(sc.Contacts), Crossings: len(c.crossings[[2]string{id, sc.Model}])})
		}
	}
	sort.Slice(top, func(i, j int) bool {
		if top[i].Score != top[j].Score {
			return top[i].Score > top[j].Score
		}
		return top[i].CompanyID < top[j].CompanyID
	})
	return top[:min(len(top), topCompanies)]
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
	CompanyID string `json:"company_id"`
	// AsOf is the time the company is scored at (null: the end of the
	// history): events after it are ignored, as by `backtest --as-of`.
	AsOf         *time.Time     `json:"as_of"`
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
	asOf, err := dialect.ParseTime(r.URL.Query().Get("as_of"))
	if err != nil {
		fail(w, http.StatusBadRequest, "as of %v", err)
		return
	}
	c := s.companies
	if !asOf.IsZero() {
		release, ok := s.busy(r)
		if !ok {
			fail(w, http.StatusServiceUnavailable, "the request was cancelled while another scoring was running")
			return
		}
		c = s.companiesAt(asOf)
		release()
	}
	scores := c.scores[id]
	if scores == nil {
		if !asOf.IsZero() {
			fail(w, http.StatusNotFound, "no company %q has members in the history (%s) as of %s", id, s.cfg.Source, asOf.Format(time.RFC3339))
			return
		}
		fail(w, http.StatusNotFound, "no company %q has members in the history (%s)", id, s.cfg.Source)
		return
	}
	v := CompanyView{CompanyID: id, RulesVersion: s.set.Version, Models: []CompanyModel{}}
	if !asOf.IsZero() {
		v.AsOf = &asOf
	}
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
		for _, x := range c.crossings[[2]string{id, sc.Model}] {
			cm.Crossings = append(cm.Crossings, CompanyCross{Threshold: x.Threshold.Name, At: x.At, Score: rules.Float(x.Score), ContactID: x.ContactID, EventID: x.EventID})
		}
		v.Models = append(v.Models, cm)
	}
	reply(w, v)
}

// companiesAt scores the company models over the history up to asOf
// (events after it ignored), keeping the last answer: a person looking at
// a company at a date opens its members and comes back.
func (s *Server) companiesAt(asOf time.Time) *companies {
	c := s.asOf
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ans != nil && c.at.Equal(asOf) {
		return c.ans
	}
	c.ans, c.at = newCompanies(s.history.CompanyScores(s.engine, asOf)), asOf
	return c.ans
}
