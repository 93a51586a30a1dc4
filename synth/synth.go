package synth

import (
	"container/heap"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"

	"github.com/scorebridge/scorebridge/events"
)

// Config shapes a stream.
type Config struct {
	Seed      uint64
	Contacts  int
	Companies int
	Owners    int       // owner ids u-1 .. u-N
	Start     time.Time // first possible event
	Days      int
	// Events stops the stream after this many events (0: no limit; the
	// stream ends at Start+Days).
	Events int
	// DuplicateRate is the share of events sent twice with the same id, as
	// at-least-once producers do.
	DuplicateRate float64
}

// Default is a small realistic stream: 2,000 contacts over 28 days.
func Default() Config {
	return Config{
		Seed: 42, Contacts: 2000, Companies: 300, Owners: 8,
		Start: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), Days: 28,
		DuplicateRate: 0.01,
	}
}

type contact struct {
	id, company, owner, email, stage, tz string
	rate                                 float64 // events per day
	next                                 time.Time
	heat                                 float64 // 0..1: how far down the funnel
}

// kinds with their base weights; hotter contacts shift weight down the list.
var kinds = []struct {
	typ        string
	cold, warm float64
}{
	{"email_opened", 40, 18},
	{"page_viewed", 30, 22},
	{"email_clicked", 8, 6},
	{"cta_clicked", 6, 9},
	{"form_submitted", 2, 6},
	{"webinar_attended", 1.5, 4},
	{"call_started", 0.5, 7},
	{"email_replied", 0.5, 5},
	{"meeting_booked", 0.2, 5},
	{"unsubscribed", 0.6, 0.2},
}

var (
	stages    = []string{"subscriber", "lead", "lead", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "partner"}
	zones     = []string{"America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London", "Europe/Berlin", "Asia/Singapore", ""}
	paths     = []string{"/", "/blog/scoring-101", "/pricing", "/pricing/enterprise", "/docs/getting-started", "/docs/api", "/customers", "/careers"}
	forms     = []string{"newsletter", "ebook", "demo_request", "contact_sales", "webinar_signup"}
	campaigns = []string{"q4-launch", "webinar-series", "retargeting", "newsletter", "partner-referral"}
	channels  = []string{"email", "organic", "paid_search", "social", "referral", "direct"}
)

// Generate calls emit for each event of the stream in occurred_at order.
// Memory grows with contacts, not events.
func Generate(cfg Config, emit func(*events.Event) error) error {
	if cfg.Contacts <= 0 || cfg.Days <= 0 {
		return fmt.Errorf("synth: need contacts > 0 and days > 0")
	}
	if cfg.Companies <= 0 {
		cfg.Companies = max(1, cfg.Contacts/7)
	}
	if cfg.Owners <= 0 {
		cfg.Owners = 8
	}
	r := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	end := cfg.Start.Add(time.Duration(cfg.Days) * 24 * time.Hour)
	q := make(queue, 0, cfg.Contacts)
	for i := 0; i < cfg.Contacts; i++ {
		c := newContact(r, i, cfg)
		c.next = cfg.Start.Add(expDelay(r, c.rate))
		if c.next.Before(end) {
			q = append(q, c)
		}
	}
	heap.Init(&q)
	n := 0
	for q.Len() > 0 {
		c := q[0]
		ev := event(r, c, cfg.Seed, n)
		n++
		if err := emit(ev); err != nil {
			return err
		}
		if cfg.DuplicateRate > 0 && r.Float64() < cfg.DuplicateRate {
			dup := *ev
			if err := emit(&dup); err != nil {
				return err
			}
		}
		if cfg.Events > 0 && n >= cfg.Events {
			return nil
		}
		c.next = c.next.Add(expDelay(r, c.rate))
		if c.next.Before(end) {
			heap.Fix(&q, 0)
		} else {
			heap.Pop(&q)
		}
	}
	return nil
}

func newContact(r *rand.Rand, i int, cfg Config) *contact {
	company := r.IntN(cfg.Companies)
	domain := fmt.Sprintf("company%d.com", company)
	switch {
	case company%97 == 13:
		domain = "competitor.com"
	case r.Float64() < 0.08:
		domain = "gmail.com"
	}
	heat := math.Pow(r.Float64(), 2.5) // most contacts are cold
	return &contact{
		id:      fmt.Sprintf("c-%06d", i),
		company: fmt.Sprintf("co-%05d", company),
		owner:   fmt.Sprintf("u-%d", 1+company%cfg.Owners),
		email:   fmt.Sprintf("contact%d@%s", i, domain),
		stage:   stages[r.IntN(len(stages))],
		tz:      zones[r.IntN(len(zones))],
		rate:    0.05 + 3*heat*heat + 0.4*r.Float64()*r.Float64(),
		heat:    heat,
	}
}

func expDelay(r *rand.Rand, perDay float64) time.Duration {
	return time.Duration(r.ExpFloat64() / perDay * float64(24*time.Hour)).Truncate(time.Second)
}

func event(r *rand.Rand, c *contact, seed uint64, n int) *events.Event {
	typ := pick(r, c.heat)
	props := map[string]any{
		"channel":  channels[r.IntN(len(channels))],
		"campaign": campaigns[r.IntN(len(campaigns))],
	}
	switch typ {
	case "page_viewed":
		props["path"] = paths[r.IntN(len(paths))]
		props["seconds_on_page"] = float64(5 + r.IntN(300))
	case "call_started":
		props["duration_s"] = float64(r.IntN(3600))
		props["channel"] = "phone"
	case "form_submitted":
		props["form"] = forms[r.IntN(len(forms))]
	case "meeting_booked":
		props["minutes"] = float64([]int{15, 30, 45, 60}[r.IntN(4)])
	case "email_opened", "email_clicked", "email_replied":
		props["email_id"] = fmt.Sprintf("em-%d", r.IntN(40))
		props["channel"] = "email"
	}
	contact := map[string]any{
		"lifecycle_stage": c.stage,
		"owner_id":        c.owner,
		"email":           c.email,
	}
	if c.tz != "" {
		contact["timezone"] = c.tz
	}
	if role := jobRole(c.id); role != "" {
		contact["job_role"] = role
	}
	return &events.Event{
		ID:         fmt.Sprintf("ev-%d-%08d", seed, n),
		Type:       typ,
		ContactID:  c.id,
		CompanyID:  c.company,
		OccurredAt: c.next,
		Properties: props,
		Contact:    contact,
	}
}

func pick(r *rand.Rand, heat float64) string {
	total := 0.0
	for _, k := range kinds {
		total += k.cold*(1-heat) + k.warm*heat
	}
	x := r.Float64() * total
	for _, k := range kinds {
		x -= k.cold*(1-heat) + k.warm*heat
		if x < 0 {
			return k.typ
		}
	}
	return kinds[0].typ
}

type queue []*contact

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if !q[i].next.Equal(q[j].next) {
		return q[i].next.Before(q[j].next)
	}
	return q[i].id < q[j].id
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*contact)) }
func (q *queue) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}

// jobRole is a contact's buying-group role (for company models' coverage):
// a function of its id, so that it draws nothing from the generator's
// random stream and every other field stays as it was.
func jobRole(id string) string {
	roles := []string{"", "", "champion", "economic_buyer", "technical_evaluator", "end_user", "", "end_user"}
	h := fnv.New32a()
	h.Write([]byte(id))
	return roles[h.Sum32()%uint32(len(roles))]
}
