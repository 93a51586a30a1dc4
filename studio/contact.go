package studio

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

// ContactView is GET /api/contacts/{id}: one contact's scores taken apart.
type ContactView struct {
	ContactID    string         `json:"contact_id"`
	At           time.Time      `json:"at"`
	RulesVersion string         `json:"rules_version"`
	Events       []EventRow     `json:"events"`
	Models       []ContactModel `json:"models"`
	// Decisions are the bridge's answer for the contact (with --bridge);
	// DecisionsError says why there are none to show.
	Decisions      []map[string]any `json:"decisions"`
	DecisionsError string           `json:"decisions_error,omitempty"`
	// CompanyID is the company the contact belongs to now, as company
	// models see it ("" without company models or company).
	CompanyID string `json:"company_id,omitempty"`
}

// EventRow is one event of the contact, in time order.
type EventRow struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	At         time.Time      `json:"at"`
	Properties map[string]any `json:"properties,omitempty"`
	Duplicate  bool           `json:"duplicate,omitempty"`
}

// Point is the score right after an event.
type Point struct {
	At      time.Time `json:"at"`
	Score   float64   `json:"score"`
	EventID string    `json:"event_id"`
}

// CrossingRow is a threshold crossing.
type CrossingRow struct {
	Threshold string    `json:"threshold"`
	At        time.Time `json:"at"`
	EventID   string    `json:"event_id"`
	Score     float64   `json:"score"`
}

// LedgerRow is a line of the sum that gives the score: a group's capped
// sum, or the model's own cap.
type LedgerRow struct {
	Label string  `json:"label"`
	Value float64 `json:"value"`
	Text  string  `json:"text"` // exact, as `scorer explain` prints points
}

// GroupRow is a group's part of a score.
type GroupRow struct {
	Name    string       `json:"name"`
	Sum     string       `json:"sum"`
	Raw     string       `json:"raw"`
	Cap     string       `json:"cap,omitempty"`
	Counted []CountedRow `json:"counted"`
	Dropped []DroppedRow `json:"dropped"`
	Value   float64      `json:"value"`
}

// CountedRow is one event counted in a group.
type CountedRow struct {
	EventID string    `json:"event_id"`
	At      time.Time `json:"at"`
	Points  string    `json:"points"`
	Factor  float64   `json:"factor"`
	Value   string    `json:"value"`
}

// DroppedRow is a match that does not count, and why.
type DroppedRow struct {
	EventID string    `json:"event_id"`
	At      time.Time `json:"at"`
	Reason  string    `json:"reason"`
}

// ContactModel is one model's view of the contact.
type ContactModel struct {
	Name       string        `json:"name"`
	Score      float64       `json:"score"`
	ScoreText  string        `json:"score_text"`
	HalfLife   string        `json:"half_life,omitempty"`
	Thresholds []Threshold   `json:"thresholds"`
	Series     []Point       `json:"series"`
	Crossings  []CrossingRow `json:"crossings"`
	Groups     []GroupRow    `json:"groups"`
	Ledger     []LedgerRow   `json:"ledger"`
	Errors     []string      `json:"errors"`
}

func (s *Server) apiContact(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.engine == nil {
		fail(w, http.StatusConflict, "the live rules have problems; fix them first (see the overview)")
		return
	}
	evs := s.history.Of(id)
	if evs == nil {
		fail(w, http.StatusNotFound, "no contact %q in the history (%s, %d contacts)", id, s.cfg.Source, s.history.Contacts())
		return
	}
	v := contactView(s.engine, id, evs)
	if s.companies != nil {
		v.CompanyID = s.companies.of[id]
	}
	v.Decisions = []map[string]any{}
	if s.cfg.BridgeURL == "" {
		v.DecisionsError = "no bridge configured (start the studio with --bridge URL)"
	} else if b, err := s.fetch(s.cfg.BridgeURL, "/decisions?contact_id="+url.QueryEscape(id)); err != nil {
		v.DecisionsError = "bridge: " + err.Error()
	} else {
		var ans struct {
			Decisions []map[string]any `json:"decisions"`
		}
		if err := json.Unmarshal(b, &ans); err != nil {
			v.DecisionsError = "bridge answered something else than decisions: " + err.Error()
		} else if ans.Decisions != nil {
			v.Decisions = ans.Decisions
		}
	}
	reply(w, v)
}

// contactView explains a contact at its latest event as `scorer explain`
// does, plus the score after each event.
func contactView(e *scoring.Engine, id string, evs []events.Event) ContactView {
	x := backtest.Explain(e, id, append([]events.Event(nil), evs...), time.Time{})
	v := ContactView{ContactID: id, At: x.At, RulesVersion: e.Rules.Version}
	sorted := scoring.Dedup(append([]events.Event(nil), evs...))
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Before(&sorted[j]) })
	for _, ev := range sorted {
		v.Events = append(v.Events, EventRow{ID: ev.ID, Type: ev.Type, At: ev.OccurredAt, Properties: ev.Properties})
	}
	// The score right after each event, as the live scorer saw it.
	sc := scoring.NewScorer(e)
	sc.AsOf = x.At.UnixNano()
	var c scoring.Contact
	series := make([][]Point, len(e.Rules.Models))
	for i := range sorted {
		o := sc.Apply(&c, &sorted[i])
		if o.Duplicate || o.Future {
			continue
		}
		for _, mr := range o.Models {
			series[mr.Model] = append(series[mr.Model], Point{At: sorted[i].OccurredAt, Score: rules.Float(mr.Score), EventID: sorted[i].ID})
		}
	}
	for mi, bd := range x.Models {
		m := e.Rules.Models[mi]
		cm := ContactModel{
			Name: m.Name, Score: rules.Float(bd.Score), ScoreText: rules.FormatPoints(bd.Score),
			Thresholds: thresholdsOf(m), Series: series[mi], Crossings: []CrossingRow{}, Errors: []string{},
		}
		if cm.Series == nil {
			cm.Series = []Point{}
		}
		if m.Decays() {
			cm.HalfLife = rules.FormatDuration(m.HalfLife)
		}
		for _, c := range x.Crossings[mi] {
			cm.Crossings = append(cm.Crossings, CrossingRow{Threshold: c.Threshold.Name, At: c.At, EventID: c.EventID, Score: rules.Float(c.Score)})
		}
		for gi, g := range bd.Groups {
			if len(g.Counted) == 0 && len(g.Dropped) == 0 {
				continue
			}
			row := GroupRow{Name: g.Name, Sum: rules.FormatPoints(g.Sum), Raw: rules.FormatPoints(g.Raw), Value: rules.Float(g.Sum), Counted: []CountedRow{}, Dropped: []DroppedRow{}}
			if g.Sum != g.Raw {
				rule := m.Groups[gi]
				if g.Sum < g.Raw && rule.Max != nil {
					row.Cap = "max " + rules.FormatPoints(*rule.Max)
				} else if rule.Min != nil {
					row.Cap = "min " + rules.FormatPoints(*rule.Min)
				}
			}
			for _, c := range g.Counted {
				row.Counted = append(row.Counted, CountedRow{EventID: c.EventID, At: c.At, Points: rules.FormatPoints(c.Points), Factor: c.Factor, Value: rules.FormatPoints(c.Value)})
			}
			for _, d := range g.Dropped {
				row.Dropped = append(row.Dropped, DroppedRow{EventID: d.EventID, At: d.At, Reason: d.Reason})
			}
			cm.Groups = append(cm.Groups, row)
			cm.Ledger = append(cm.Ledger, LedgerRow{Label: "group " + g.Name, Value: rules.Float(g.Sum), Text: signed(g.Sum)})
		}
		if bd.Score != bd.Raw {
			name, limit := "max_score", m.MaxScore
			if bd.Score > bd.Raw {
				name, limit = "min_score", m.MinScore
			}
			cm.Ledger = append(cm.Ledger, LedgerRow{Label: fmt.Sprintf("capped at %s %s", name, rules.FormatPoints(*limit)), Value: rules.Float(bd.Score - bd.Raw), Text: signed(bd.Score - bd.Raw)})
		}
		if cm.Ledger == nil {
			cm.Ledger = []LedgerRow{}
		}
		for _, err := range bd.Errors {
			cm.Errors = append(cm.Errors, err.Error())
		}
		v.Models = append(v.Models, cm)
	}
	return v
}

func signed(p rules.Points) string {
	if p >= 0 {
		return "+" + rules.FormatPoints(p)
	}
	return rules.FormatPoints(p)
}
