package kafkabench

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/scorebridge/scorebridge/events"
)

// Source produces up to n events in order, calling emit with each one's
// key (the contact id) and JSON value. It stops early when emit fails.
type Source func(n int, emit func(key string, value []byte) error) error

// eventTypes mixes cheap, frequent signals with rarer, stronger ones, as a
// B2B funnel does.
var eventTypes = []struct {
	name   string
	weight int
}{
	{"email_opened", 38}, {"page_viewed", 30}, {"email_clicked", 9}, {"cta_clicked", 7},
	{"form_submitted", 5}, {"webinar_attended", 4}, {"email_replied", 3},
	{"meeting_booked", 2}, {"unsubscribed", 1}, {"call_started", 1},
}

var (
	pages      = []string{"/", "/pricing", "/product", "/docs/getting-started", "/blog/lead-scoring", "/customers", "/demo"}
	campaigns  = []string{"q4-webinar", "nurture-a", "nurture-b", "product-launch", "newsletter"}
	industries = []string{"software", "finance", "healthcare", "retail", "manufacturing", "education"}
	titles     = []string{"VP Marketing", "Marketing Ops Manager", "CTO", "Sales Director", "Analyst", "Founder"}
	countries  = []string{"US", "GB", "DE", "FR", "CA", "AU", "NL"}
)

// wireEvent has the shape of events.Event on the wire.
type wireEvent struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	ContactID  string         `json:"contact_id"`
	CompanyID  string         `json:"company_id,omitempty"`
	OccurredAt time.Time      `json:"occurred_at"`
	Properties map[string]any `json:"properties,omitempty"`
	Contact    map[string]any `json:"contact,omitempty"`
}

// SyntheticEvents is a deterministic stand-in for the project's event
// generator: plausible events over the given number of contacts (about ten
// per company), a minute of event time apart on average, starting
// 2026-10-01. The same seed gives the same stream.
func SyntheticEvents(seed uint64, contacts int) Source {
	if contacts < 1 {
		contacts = 1
	}
	return func(n int, emit func(string, []byte) error) error {
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		total := 0
		for _, t := range eventTypes {
			total += t.weight
		}
		at := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
		for i := 0; i < n; i++ {
			c := rng.IntN(contacts)
			pick := rng.IntN(total)
			typ := eventTypes[0].name
			for _, t := range eventTypes {
				if pick < t.weight {
					typ = t.name
					break
				}
				pick -= t.weight
			}
			at = at.Add(time.Duration(rng.IntN(120_000)) * time.Millisecond)
			ev := wireEvent{
				ID:         fmt.Sprintf("ev-%d-%d", seed, i),
				Type:       typ,
				ContactID:  fmt.Sprintf("c-%d", c),
				CompanyID:  fmt.Sprintf("co-%d", c/10),
				OccurredAt: at,
				Properties: map[string]any{
					"url":        "https://example.com" + pages[rng.IntN(len(pages))],
					"campaign":   campaigns[rng.IntN(len(campaigns))],
					"utm_source": "email",
				},
				Contact: map[string]any{
					"email":     fmt.Sprintf("person%d@company%d.example", c, c/10),
					"job_title": titles[c%len(titles)],
					"industry":  industries[(c/10)%len(industries)],
					"country":   countries[(c/10)%len(countries)],
					"employees": 10 + (c/10)%5000,
				},
			}
			b, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			if err := emit(ev.ContactID, b); err != nil {
				return err
			}
		}
		return nil
	}
}

// errEnough stops a generator once a Source has emitted what was asked.
var errEnough = errors.New("enough events")

// EventSource adapts a generator of events.Event values (such as the
// project's synth.Generate with its config bound) to a Source: each event
// is encoded as JSON and keyed by its contact id; the generator is stopped
// after n events.
func EventSource(gen func(emit func(*events.Event) error) error) Source {
	return func(n int, emit func(string, []byte) error) error {
		if n <= 0 {
			return nil
		}
		i := 0
		err := gen(func(ev *events.Event) error {
			b, err := json.Marshal(ev)
			if err != nil {
				return fmt.Errorf("encode event %s: %w", ev.ID, err)
			}
			if err := emit(ev.ContactID, b); err != nil {
				return err
			}
			if i++; i >= n {
				return errEnough
			}
			return nil
		})
		if errors.Is(err, errEnough) {
			return nil
		}
		return err
	}
}
