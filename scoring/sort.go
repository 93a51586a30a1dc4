package scoring

import (
	"sort"

	"github.com/scorebridge/scorebridge/events"
)

// sortEvents orders events by (occurred_at, id).
func sortEvents(evs []events.Event) {
	sort.Slice(evs, func(i, j int) bool { return evs[i].Before(&evs[j]) })
}
