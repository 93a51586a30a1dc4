package enrollment

import (
	"fmt"
	"sort"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/internal/dialect"
)

// Account routing: a company model's crossing (level company) names the
// company and its top members. The bridge enrolls one member, chosen
// before the crossing takes its locks: for the first route with level
// company matching the model and threshold, the highest-scoring member
// whose `when` holds (its `contact` is the member's tracked properties:
// coverage roles, owner_id, email, lifecycle_stage, timezone) and, for a
// sequence, whose owner is a configured sender. The crossing then goes
// through the same stages as a contact's, as that member's, under the
// company's id: suppression, exclusivity (company_exclusive counts account
// and contact enrollments alike), quotas, hours, send, record.

// chooseMember returns the crossing as the chosen member's: ContactID and
// Contact are the member's. Without a member to choose it returns the
// crossing unchanged, and RouteStage decides why.
func (cfg *Config) chooseMember(c events.Crossing) events.Crossing {
	if c.Level != events.LevelCompany {
		return c
	}
	members := append([]events.CompanyMember(nil), c.Members...)
	sort.SliceStable(members, func(i, j int) bool {
		if members[i].Score != members[j].Score {
			return members[i].Score > members[j].Score
		}
		return members[i].ContactID < members[j].ContactID
	})
	for i := range cfg.Routes {
		r := &cfg.Routes[i]
		if !r.matches(c) {
			continue
		}
		for _, m := range members {
			x := memberCrossing(c, m)
			if ok, _ := r.holds(x); !ok {
				continue
			}
			if cfg.senderFor(r, x) {
				return x
			}
		}
	}
	return c
}

// memberCrossing is c as member m's crossing.
func memberCrossing(c events.Crossing, m events.CompanyMember) events.Crossing {
	x := c
	x.ContactID = m.ContactID
	x.Contact = map[string]any{}
	for k, v := range m.Contact {
		x.Contact[k] = v
	}
	if m.OwnerID != "" {
		x.Contact["owner_id"] = m.OwnerID
	}
	x.Contact["contact_id"] = m.ContactID
	return x
}

// matches: the route is for the crossing's level, model and threshold.
func (r *Route) matches(c events.Crossing) bool {
	if (r.Level == events.LevelCompany) != (c.Level == events.LevelCompany) {
		return false
	}
	return r.Model == c.Model && (r.Threshold == "" || r.Threshold == c.ThresholdName)
}

// holds evaluates the route's `when` on the crossing (true without one).
func (r *Route) holds(c events.Crossing) (bool, error) {
	if r.program == nil {
		return true, nil
	}
	env := whenEnv(c)
	out, err := dialect.Run(r.program, &env)
	if err != nil {
		return false, err
	}
	ok, _ := out.(bool)
	return ok, nil
}

// noMember is RouteStage's decision for a company crossing that has
// routes but no member to enroll.
func noMember(a *Attempt, cfg *Config) *Decision {
	c := a.Crossing
	for i := range cfg.Routes {
		if cfg.Routes[i].matches(c) {
			return decide(a, KindNoSender, "", fmt.Sprintf("no member of company %s among the crossing's %d matches a company route with a configured sender", c.CompanyID, len(c.Members)))
		}
	}
	return nil
}

// senderFor: a company crossing's sequence route needs the member's owner
// to be a configured sender (the chooser skips it otherwise, and so does
// RouteStage, so that both pick the same route). Contact crossings are not
// filtered here: RouteStage decides no_sender for them.
func (cfg *Config) senderFor(r *Route, c events.Crossing) bool {
	if c.Level != events.LevelCompany || r.Target().Kind != TargetSequence {
		return true
	}
	_, ok := cfg.Sender(contactString(c.Contact, "owner_id"))
	return ok
}
