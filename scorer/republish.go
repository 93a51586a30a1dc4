package scorer

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/scorebridge/scorebridge/leadscores"
	"github.com/scorebridge/scorebridge/stream"
)

// republishTimeout bounds one partition's republish, so a broker outage
// cannot hold the partition's batches for long.
const republishTimeout = 30 * time.Second

// Republish publishes, for every owned partition, the lead-scores message
// of each contact whose content under the current rules differs from the
// topic's latest. It returns how many it published; a partition that
// fails is reported in the error and keeps the older messages until its
// contacts' next events.
//
// A rule reload changes what every held contact's lead-scores message
// says (its rule_version at least), not only for contacts that get new
// events: republishing lets consumers (the bridge's write-back into
// HubSpot) follow the new rules without waiting for events.
//
// Per partition, holding its lock (its batches wait): the batches already
// scored are made durable first (their messages are in the topic before
// the topic is read), the partition adopts the new engine, the topic's
// latest message of each of its contacts is read back (its company_id is
// kept: the company of the event that produced it), and the changed
// messages are written and acknowledged before the next batch is scored,
// so a later batch's message for a contact always lands after this one.
// The contacts' saved states need no rewrite: a state saved under the old
// rules decodes under the new ones as the adoption does.
func (p *Processor) Republish(ctx context.Context) (int, error) {
	if p.cfg.Scores == nil || p.cfg.ScoresTopic == "" {
		return 0, nil
	}
	p.mu.Lock()
	parts := make([]*partition, 0, len(p.parts))
	for _, part := range p.parts {
		parts = append(parts, part)
	}
	p.mu.Unlock()
	total := 0
	var errs []error
	for _, part := range parts {
		pctx, cancel := context.WithTimeout(ctx, republishTimeout)
		n, err := p.republishPartition(pctx, part)
		cancel()
		total += n
		if err != nil {
			p.count("scores", 1)
			errs = append(errs, fmt.Errorf("partition %d: %w", part.id, err))
		}
	}
	if len(errs) > 0 {
		return total, fmt.Errorf("republish lead-scores: %v", errs)
	}
	return total, nil
}

func (p *Processor) republishPartition(ctx context.Context, part *partition) (int, error) {
	part.mu.Lock()
	defer part.mu.Unlock()
	if err := part.flight.settle(ctx); err != nil {
		return 0, err // its state is dropped: the next owner replays it
	}
	part.adopt(p.Engine())
	latest, err := p.latestScores(ctx, part)
	if err != nil {
		return 0, err
	}
	enc := leadscores.NewEncoder(part.scorer.Rules)
	var (
		words []uint64
		buf   []byte
		ends  []int
	)
	for id, c := range part.contacts {
		if c.Count == 0 {
			continue
		}
		old := latest[id]
		company := ""
		if old != nil {
			if m, ok, err := leadscores.Decode([]byte(id), old); err == nil && ok {
				company = m.CompanyID
			}
		}
		words = enc.Scores(words[:0], part.scorer, c)
		start := len(buf)
		buf = append(buf, id...)
		k := len(buf)
		buf = enc.Append(buf, id, company, c.Latest, words)
		if bytes.Equal(buf[k:], old) {
			buf = buf[:start]
			continue
		}
		ends = append(ends, k, len(buf))
	}
	msgs := make([]stream.Record, 0, len(ends)/2)
	start := 0
	for i := 0; i < len(ends); i += 2 {
		k, v := ends[i], ends[i+1]
		msgs = append(msgs, stream.Record{Key: buf[start:k:k], Value: buf[k:v:v]})
		start = v
	}
	if err := write(ctx, p.cfg.Scores, msgs); err != nil {
		return 0, err
	}
	return len(msgs), nil
}

// latestScores reads the scores topic's latest message of each contact
// the partition holds: from the partition of the same number when the
// topic is co-partitioned with the events (the scorer creates it so),
// else from every partition.
func (p *Processor) latestScores(ctx context.Context, part *partition) (map[string][]byte, error) {
	n, err := stream.Partitions(ctx, p.cfg.Brokers, p.cfg.ScoresTopic)
	if err != nil {
		return nil, err
	}
	from := []int{part.id}
	if n != p.cfg.Partitions || p.cfg.Partitions <= 0 {
		from = from[:0]
		for i := range n {
			from = append(from, i)
		}
	}
	latest := map[string][]byte{}
	for _, sp := range from {
		_, err := stream.RestorePartition(ctx, p.cfg.Brokers, p.cfg.ScoresTopic, sp, func(m stream.Record) error {
			if _, held := part.contacts[string(m.Key)]; held {
				latest[string(m.Key)] = m.Value // nil: a tombstone
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read %s partition %d: %w", p.cfg.ScoresTopic, sp, err)
		}
	}
	return latest, nil
}
