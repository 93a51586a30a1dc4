package events

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// CrossingLog reads a crossings topic message by message and checks what
// its consumers rely on: each crossing_id names one crossing and is the
// CrossingID of it, a crossing is announced under one id, and a message is
// keyed by its contact. Replays (the same id, the same crossing) are
// counted, not conflicts. A company model's crossings (level company,
// keyed by company) are counted in Companies and not checked: they name no
// contact's state. `scorer state dump --crossings-topic` and the
// scorer's tests read the topic through it.
type CrossingLog struct {
	Messages, Distinct, Duplicates, Malformed int
	Companies                                 int // company-level crossings, skipped
	Conflicts                                 []string
	IDs                                       map[string]bool

	times  map[string][]time.Time // contact \x00 model -> crossed_at
	byID   map[string]Crossing
	byWhat map[string]string // contact, model, threshold, event -> id
}

// NewCrossingLog is an empty log.
func NewCrossingLog() *CrossingLog {
	return &CrossingLog{IDs: map[string]bool{}, times: map[string][]time.Time{}, byID: map[string]Crossing{}, byWhat: map[string]string{}}
}

// Add reads one message of the topic.
func (l *CrossingLog) Add(key, value []byte) {
	l.Messages++
	x, err := DecodeCrossing(value)
	if err != nil {
		l.Malformed++
		return
	}
	if x.Level == LevelCompany {
		l.Companies++
		return
	}
	if prev, ok := l.byID[x.CrossingID]; ok {
		l.Duplicates++
		if prev.ContactID != x.ContactID || prev.Model != x.Model || prev.ThresholdName != x.ThresholdName ||
			prev.EventID != x.EventID || !prev.CrossedAt.Equal(x.CrossedAt) {
			l.conflict("crossing_id %s names two crossings: %s/%s/%s by %s and %s/%s/%s by %s",
				x.CrossingID, prev.ContactID, prev.Model, prev.ThresholdName, prev.EventID, x.ContactID, x.Model, x.ThresholdName, x.EventID)
		}
		return
	}
	what := strings.Join([]string{x.ContactID, x.Model, x.ThresholdName, x.EventID}, "\x00")
	if id, ok := l.byWhat[what]; ok && id != x.CrossingID {
		l.conflict("crossing %s/%s/%s by %s announced under two ids: %s and %s",
			x.ContactID, x.Model, x.ThresholdName, x.EventID, id, x.CrossingID)
	}
	if string(key) != x.ContactID {
		l.conflict("crossing_id %s keyed %q, contact %q", x.CrossingID, key, x.ContactID)
	}
	if x.CrossingID != CrossingID(x.ContactID, x.Model, x.ThresholdName, x.EventID) {
		l.conflict("crossing_id %s is not the id of %s/%s/%s by %s", x.CrossingID, x.ContactID, x.Model, x.ThresholdName, x.EventID)
	}
	l.byID[x.CrossingID], l.byWhat[what] = x, x.CrossingID
	l.IDs[x.CrossingID] = true
	l.Distinct++
	k := x.ContactID + "\x00" + x.Model
	l.times[k] = append(l.times[k], x.CrossedAt.UTC())
}

func (l *CrossingLog) conflict(format string, args ...any) {
	l.Conflicts = append(l.Conflicts, fmt.Sprintf(format, args...))
}

// Times lists the distinct crossings of a contact in a model, oldest first.
func (l *CrossingLog) Times(contactID, model string) []time.Time {
	ts := l.times[contactID+"\x00"+model]
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	return ts
}

// Contacts lists the contacts with at least one crossing.
func (l *CrossingLog) Contacts() map[string]bool {
	out := map[string]bool{}
	for k := range l.times {
		id, _, _ := strings.Cut(k, "\x00")
		out[id] = true
	}
	return out
}

// Compare counts the expected crossing ids missing from the log and the
// ids in the log that were not expected.
func (l *CrossingLog) Compare(want map[string]bool) (missing, unexpected []string) {
	for id := range want {
		if !l.IDs[id] {
			missing = append(missing, id)
		}
	}
	for id := range l.IDs {
		if !want[id] {
			unexpected = append(unexpected, id)
		}
	}
	sort.Strings(missing)
	sort.Strings(unexpected)
	return missing, unexpected
}
