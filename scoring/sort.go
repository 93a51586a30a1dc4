package scoring

import (
	"sort"

	"github.com/scorebridge/scorebridge/events"
)

// sortEvents orders events by (occurred_at, id).
func sortEvents(evs []events.Event) {
	sort.Slice(evs, func(i, j int) bool { return evs[i].Before(&evs[j]) })
}

func sortBy[T any](s []T, less func(a, b T) bool) {
	sort.SliceStable(s, func(i, j int) bool { return less(s[i], s[j]) })
}
