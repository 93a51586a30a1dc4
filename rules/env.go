package rules

import "time"

// Env is the typed environment every expression is compiled against:
// `event.type`, `event.properties.X`, `contact.X`. Typing it means that
// `event.type == 5` is a compile error, not a silent non-match.
type Env struct {
	Event   EventEnv       `expr:"event"`
	Contact map[string]any `expr:"contact"`
}

// EventEnv is the event as expressions see it.
type EventEnv struct {
	ID         string         `expr:"id"`
	Type       string         `expr:"type"`
	ContactID  string         `expr:"contact_id"`
	CompanyID  string         `expr:"company_id"`
	OccurredAt time.Time      `expr:"occurred_at"`
	Properties map[string]any `expr:"properties"`
}
