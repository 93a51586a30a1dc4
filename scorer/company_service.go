package scorer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/stream"
)

// companyService is the scorer's company side: the member changelog and
// company topic the contact processor writes, and the company aggregator's
// own consumer group over that topic, run beside the contact group.
type companyService struct {
	topic, changelog, members string
	scores                    string // company-scores; "": none published
	partitions                int    // the company topic's
	aggregator                *CompanyAggregator
	consumer                  *stream.GroupConsumer
}

// newCompanyTopics creates the company topic (keyed by company_id, with
// the events topic's partition count) and the two compacted changelogs:
// the contacts' trackers (co-partitioned with the events) and the
// companies' state (co-partitioned with the company topic), and the
// compacted company-scores topic when one is named.
func newCompanyTopics(ctx context.Context, o *Options, parts int) (*companyService, error) {
	if o.CompaniesTopic == "" {
		o.CompaniesTopic = o.EventsTopic + "-companies"
	}
	c := &companyService{topic: o.CompaniesTopic, changelog: o.CompaniesTopic + "-state", members: o.ChangelogTopic + "-members",
		scores: o.CompanyScoresTopic}
	topics := []stream.Topic{
		{Name: c.topic, Partitions: parts},
		{Name: c.changelog, Partitions: parts, Compacted: true},
		{Name: c.members, Partitions: parts, Compacted: true},
	}
	if c.scores != "" {
		topics = append(topics, stream.Topic{Name: c.scores, Partitions: parts, Compacted: true})
	}
	if err := stream.EnsureTopics(ctx, o.Brokers, topics...); err != nil {
		return nil, err
	}
	if err := samePartitions(ctx, o.Brokers, c.members, parts, "the events topic", "members would not follow their events"); err != nil {
		return nil, err
	}
	cp, err := stream.Partitions(ctx, o.Brokers, c.topic)
	if err != nil {
		return nil, err
	}
	c.partitions = cp
	if err := samePartitions(ctx, o.Brokers, c.changelog, cp, c.topic, "company state would not follow its changes"); err != nil {
		return nil, err
	}
	return c, nil
}

// samePartitions checks that topic has want partitions, as other (named
// for the message) has, and says why it matters when not.
func samePartitions(ctx context.Context, brokers []string, topic string, want int, other, why string) error {
	n, err := stream.Partitions(ctx, brokers, topic)
	if err != nil {
		return fmt.Errorf("%s: partitions: %w", topic, err)
	}
	if n != want {
		return fmt.Errorf("%s has %d partitions, %s %d: %s", topic, n, other, want, why)
	}
	return nil
}

// start builds the producers, the aggregator and its consumer; it returns
// the processor's Members and a function closing the producers.
func (c *companyService) start(o Options, set *rules.Set, crossings Producer, eraser *analytics.Eraser, w *analytics.Writer, reg prometheus.Registerer) (*Members, func(), error) {
	var producers []*stream.Producer
	closeAll := func() {
		for _, p := range producers {
			p.Close()
		}
	}
	named := map[string]*stream.Producer{}
	topics := []string{c.topic, c.changelog, c.members}
	if c.scores != "" {
		topics = append(topics, c.scores)
	}
	for _, t := range topics {
		p, err := stream.NewProducer(stream.ProducerConfig{Brokers: o.Brokers, Topic: t})
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		producers = append(producers, p)
		named[t] = p
	}
	cfg := CompanyConfig{
		Brokers: o.Brokers, Changelog: c.changelog, Crossings: crossings, States: named[c.changelog],
		Metrics: NewCompanyMetrics(reg), Log: o.Log.With().Str("component", "companies").Logger(),
	}
	if eraser != nil && w != nil {
		cfg.Recorder, cfg.Erase = w, eraser.EraseCompanyScores
	}
	if c.scores != "" {
		cfg.Scores = named[c.scores]
	}
	c.aggregator = NewCompanyAggregator(cfg, set)
	log := cfg.Log
	var err error
	c.consumer, err = stream.NewGroupConsumer(stream.GroupConfig{
		Brokers: o.Brokers, Group: o.Group + "-companies", Topic: c.topic, MaxBatch: MaxBatch, Log: &log,
	}, c.aggregator)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	m := &Members{Brokers: o.Brokers, Changelog: c.members, Changes: named[c.topic], States: named[c.members], Partitions: c.partitions}
	return m, closeAll, nil
}

// run runs the contact group (runContacts) and the company group
// together; the first to fail stops both.
func (c *companyService) run(ctx context.Context, cancel context.CancelFunc, runContacts func(context.Context) error) error {
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, run := range []func(context.Context) error{runContacts, c.consumer.Run} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = run(ctx); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	if errs[0] != nil {
		return errs[0]
	}
	if errs[1] != nil {
		return fmt.Errorf("company aggregator: %w", errs[1])
	}
	return nil
}

// CompanyLine is the answer of GET /companies/{id}/score: a backtest
// company line, with each member's role and whether it counts.
type CompanyLine struct {
	CompanyID string              `json:"company_id"`
	Model     string              `json:"model"`
	Score     float64             `json:"score"`
	Rollup    float64             `json:"rollup"`
	Contacts  map[string]float64  `json:"contacts"`
	Coverage  []string            `json:"coverage"`
	Members   []CompanyLineMember `json:"members"`
}

// CompanyLineMember is a member in a CompanyLine.
type CompanyLineMember struct {
	ContactID string  `json:"contact_id"`
	Score     float64 `json:"score"`
	Role      string  `json:"role,omitempty"`
	Counted   bool    `json:"counted"`
}

// companyScore answers GET /companies/{id}/score?model=M.
func (s *Service) companyScore(w http.ResponseWriter, r *http.Request) {
	if s.companies == nil {
		httpError(w, http.StatusNotFound, "the rules have no company model (level: company)")
		return
	}
	if !s.started.Load() {
		httpError(w, http.StatusServiceUnavailable, "starting: no company partition is held yet")
		return
	}
	id, model := r.PathValue("id"), r.URL.Query().Get("model")
	set := s.companies.aggregator.set.Load()
	if model == "" && len(set.Companies) == 1 {
		model = set.Companies[0].Name
	}
	if set.Company(model) == nil {
		httpError(w, http.StatusNotFound, fmt.Sprintf("no company model %q", model))
		return
	}
	sc, ok := s.companies.aggregator.CompanyScore(id, model)
	if !ok {
		httpError(w, http.StatusNotFound, fmt.Sprintf("company %q is not held by this instance (unknown, or its partition is owned by another instance)", id))
		return
	}
	l := CompanyLine{CompanyID: id, Model: model, Score: rules.Float(sc.Score), Rollup: rules.Float(sc.Rollup),
		Contacts: map[string]float64{}, Coverage: sc.Coverage, Members: []CompanyLineMember{}}
	if l.Coverage == nil {
		l.Coverage = []string{}
	}
	for _, c := range sc.Contacts {
		l.Contacts[c.ContactID] = rules.Float(c.Score)
		l.Members = append(l.Members, CompanyLineMember{ContactID: c.ContactID, Score: rules.Float(c.Score), Role: c.Role, Counted: c.Counted})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(l)
}
