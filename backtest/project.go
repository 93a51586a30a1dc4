package backtest

import (
	"github.com/scorebridge/scorebridge/accounts"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
)

// projection is what a backtest of set decodes of each event's objects:
// only the keys the rules read (decoding builds nothing else, which is
// most of its cost), or every key (nil) when an expression reads an
// object dynamically or Options.Seen hands the events to a caller that
// may read anything. The output is the same either way:
// TestProjectionChangesNothing holds it to that.
func projection(set *rules.Set, opts Options) *events.Projection {
	r := set.Reads()
	if r.All || opts.Seen != nil {
		return nil
	}
	return events.NewProjection(r.Properties, r.Contact)
}

// companyProjection is projection for the company pass: the company
// models also read the members' roles and the properties a company
// crossing carries (accounts.Properties) from the contact object.
func companyProjection(set *rules.Set) *events.Projection {
	r := set.Reads()
	if r.All {
		return nil
	}
	return events.NewProjection(r.Properties, append(r.Contact, accounts.Properties(set)...))
}

// projection2 is projection for a history scored under two rule sets:
// the keys either reads.
func projection2(a, b *rules.Set, opts Options) *events.Projection {
	ra, rb := a.Reads(), b.Reads()
	if ra.All || rb.All || opts.Seen != nil {
		return nil
	}
	return events.NewProjection(append(ra.Properties, rb.Properties...), append(ra.Contact, rb.Contact...))
}
