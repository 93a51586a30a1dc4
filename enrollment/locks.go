package enrollment

import (
	"slices"
	"sync"

	"github.com/scorebridge/scorebridge/events"
)

// keyedLocks serialises decisions that share a contact, a company or a
// sender (whose quota they draw on) while letting unrelated ones call the
// sink in parallel. Keys are always taken in sorted order, so two
// decisions cannot wait for each other.
type keyedLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	sync.Mutex
	refs int
}

func (k *keyedLocks) lock(keys ...string) (unlock func()) {
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	held := make([]*keyLock, 0, len(keys))
	for _, key := range keys {
		k.mu.Lock()
		if k.m == nil {
			k.m = map[string]*keyLock{}
		}
		l, ok := k.m[key]
		if !ok {
			l = &keyLock{}
			k.m[key] = l
		}
		l.refs++
		k.mu.Unlock()
		l.Lock()
		held = append(held, l)
	}
	return func() {
		for i := len(held) - 1; i >= 0; i-- {
			held[i].Unlock()
			k.mu.Lock()
			if held[i].refs--; held[i].refs == 0 {
				delete(k.m, keys[i])
			}
			k.mu.Unlock()
		}
	}
}

// crossingKeys are what a crossing's decision may read and change.
func crossingKeys(c events.Crossing) []string {
	keys := []string{"contact:" + c.ContactID, "owner:" + contactString(c.Contact, "owner_id")}
	if c.CompanyID != "" {
		keys = append(keys, "company:"+c.CompanyID)
	}
	return keys
}
