package live

import (
	"github.com/scorebridge/scorebridge/leadscores"
	"github.com/scorebridge/scorebridge/scoring"
	"github.com/scorebridge/scorebridge/stream"
)

// The lead-scores topic gets a contact's message when the batch changed
// what it says. What it said before the batch is not remembered: it is
// rebuilt from the contact's state before the batch, which is what the
// topic's latest message for the contact reflects, since every state
// saved was published first (publishing comes before the state in
// durable). A crash between the two replays the batch from the older
// state and publishes the same content again.

// scoresBefore notes, for each contact of the batch, its message before
// the batch (as a digest) and the company of its last event. It
// returns nil when the processor publishes no scores.
func (p *Processor) scoresBefore(part *partition, items []scoring.Item) map[*scoring.Contact]*scoreMark {
	if p.cfg.Scores == nil {
		return nil
	}
	before := make(map[*scoring.Contact]*scoreMark, len(items))
	for _, it := range items {
		pd := before[it.Contact]
		if pd == nil {
			pd = &scoreMark{id: it.Event.ContactID, known: it.Contact.Count > 0}
			if pd.known {
				pd.before = leadscores.Digest(part.scorer, it.Contact)
			}
			before[it.Contact] = pd
		}
		pd.company = it.Event.CompanyID
	}
	return before
}

// scoreMark is a contact's lead-scores message as the batch found it.
type scoreMark struct {
	id, company string
	known       bool   // the contact had a message
	before      uint64 // its leadscores.Digest
}

// scoresAfter queues the message of every contact of the batch whose
// scores now say something else.
func (p *Processor) scoresAfter(part *partition, before map[*scoring.Contact]*scoreMark, b *batch) {
	for c, pd := range before {
		if c.Count == 0 {
			continue
		}
		if pd.known && leadscores.Digest(part.scorer, c) == pd.before {
			continue
		}
		m := leadscores.Build(part.scorer, pd.id, pd.company, c)
		b.scores = append(b.scores, stream.Message(pd.id, leadscores.Marshal(&m)))
	}
}
