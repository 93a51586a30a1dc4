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

func (k *keyedLocks) lock(keys ...string) (unlock func()) { return k.acquire(keys...).unlock }

// heldKeys are locks taken together; they may be given back in parts.
type heldKeys struct {
	k     *keyedLocks
	keys  []string
	locks []*keyLock // nil once released
}

func (k *keyedLocks) acquire(keys ...string) *heldKeys {
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	h := &heldKeys{k: k, keys: keys, locks: make([]*keyLock, 0, len(keys))}
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
		h.locks = append(h.locks, l)
	}
	return h
}

// unlock releases every key still held.
func (h *heldKeys) unlock() { h.unlockExcept("") }

// unlockExcept releases every key still held but keep, so that work that
// concerns only one contact does not hold up its sender or company.
func (h *heldKeys) unlockExcept(keep string) {
	for i := len(h.locks) - 1; i >= 0; i-- {
		l := h.locks[i]
		if l == nil || h.keys[i] == keep {
			continue
		}
		h.locks[i] = nil
		l.Unlock()
		h.k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(h.k.m, h.keys[i])
		}
		h.k.mu.Unlock()
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
