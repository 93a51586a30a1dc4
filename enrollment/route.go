package enrollment

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/internal/dialect"
)

// WhenEnv is what a route's `when` expression sees: the contact's
// properties as sent with the crossing, and the crossing itself.
type WhenEnv struct {
	Contact  map[string]any `expr:"contact"`
	Crossing CrossingEnv    `expr:"crossing"`
	// The string bytes an evaluation builds, bounded as in scoring rules.
	dialect.Meter `expr:"-"`
}

// CrossingEnv exposes a crossing to `when` expressions.
type CrossingEnv struct {
	ContactID     string  `expr:"contact_id"`
	CompanyID     string  `expr:"company_id"`
	Model         string  `expr:"model"`
	Score         float64 `expr:"score"`
	Threshold     float64 `expr:"threshold"`
	ThresholdName string  `expr:"threshold_name"`
	RuleVersion   string  `expr:"rule_version"`
	EventID       string  `expr:"event_id"`
}

func whenEnv(c events.Crossing) WhenEnv {
	contact := c.Contact
	if contact == nil {
		contact = map[string]any{}
	}
	return WhenEnv{Contact: contact, Crossing: CrossingEnv{
		ContactID: c.ContactID, CompanyID: c.CompanyID, Model: c.Model, Score: c.Score,
		Threshold: c.Threshold, ThresholdName: c.ThresholdName, RuleVersion: c.RuleVersion, EventID: c.EventID,
	}}
}

// RouteStage picks the first route matching the crossing's model, threshold
// and `when`, and the sender from the contact's owner_id (sequences only:
// workflows have no sender).
type RouteStage struct{ Config *Config }

// Name implements Stage.
func (RouteStage) Name() string { return "route" }

// Exec implements Stage.
func (s RouteStage) Exec(_ context.Context, a *Attempt) (*Decision, error) {
	c := a.Crossing
	env := whenEnv(c)
	var evalErrs []string
	for i := range s.Config.Routes {
		r := &s.Config.Routes[i]
		if !r.matches(c) || !s.Config.senderFor(r, c) {
			continue
		}
		if r.program != nil {
			env.Reset()
			out, err := dialect.Run(r.program, &env)
			if err != nil {
				// A route whose condition cannot be evaluated does not match;
				// the decision says why if nothing else does.
				evalErrs = append(evalErrs, fmt.Sprintf("routes[%d]: %s", i, dialect.OneLine(err)))
				continue
			}
			if ok, _ := out.(bool); !ok {
				continue
			}
		}
		a.Route = r
		break
	}
	if a.Route == nil && c.Level == events.LevelCompany {
		if d := noMember(a, s.Config); d != nil {
			return d, nil
		}
	}
	if a.Route == nil {
		return decide(a, KindNoRoute, "", strings.Join(evalErrs, "; ")), nil
	}
	if a.Route.Target().Kind == TargetWorkflow {
		return nil, nil
	}
	owner := contactString(c.Contact, "owner_id")
	sender, ok := s.Config.Sender(owner)
	if !ok {
		if owner == "" {
			return decide(a, KindNoSender, "", "contact has no owner_id"), nil
		}
		return decide(a, KindNoSender, "", fmt.Sprintf("owner_id %q has no configured sender", owner)), nil
	}
	a.Sender = sender
	return nil, nil
}

// contactString reads a contact property as a trimmed string.
func contactString(contact map[string]any, key string) string {
	v, ok := contact[key]
	if !ok || v == nil {
		return ""
	}
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case float64:
		// JSON numbers arrive as float64; ids must not become 1.2e+07.
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return strings.TrimSpace(fmt.Sprint(v))
}
