package scorer

import (
	"context"

	"github.com/scorebridge/scorebridge/analytics"
)

// Recorder stores what the service scored: the touch history. Flush
// returns once everything added is durable; the service commits Kafka
// offsets only after it.
type Recorder interface {
	AddTouches(rows ...analytics.Touch) error
	AddLedger(rows ...analytics.LedgerRow) error
	AddCrossings(rows ...analytics.CrossingRow) error
	Flush(ctx context.Context) error
}

// Discard is the Recorder used without ClickHouse: the score state and the
// crossings topic still work; the touch history and reports do not.
type Discard struct{}

func (Discard) AddTouches(...analytics.Touch) error         { return nil }
func (Discard) AddLedger(...analytics.LedgerRow) error      { return nil }
func (Discard) AddCrossings(...analytics.CrossingRow) error { return nil }
func (Discard) Flush(context.Context) error                 { return nil }
