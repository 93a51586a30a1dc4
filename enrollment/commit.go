package enrollment

import (
	"fmt"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// groupCommit makes concurrent writes to the store share one transaction
// and its fsync without waiting for company: a write that finds the
// committer idle commits at once, and the writes that arrive while a
// commit runs go together in the next one. bbolt's Batch waits
// MaxBatchDelay even for a write alone; the enrollment path (intent with
// the call's start, the answer's row, the decision, each needed before
// the next step, under the sender's lock) pays that wait three times per
// enrollment, and with Update alone the senders' writes queue for the one
// writer, an fsync each.
type groupCommit struct {
	db     *bolt.DB
	mu     sync.RWMutex // read-held while a write is queued; close takes it
	closed bool
	queue  chan groupWrite
	done   chan struct{}
}

type groupWrite struct {
	fn  func(*bolt.Tx) error
	err chan error
}

// maxGroup bounds the writes of one transaction.
const maxGroup = 256

func newGroupCommit(db *bolt.DB) *groupCommit {
	g := &groupCommit{db: db, queue: make(chan groupWrite, maxGroup), done: make(chan struct{})}
	go g.run()
	return g
}

// write runs fn in a transaction shared with the writes queued with it
// and returns once that transaction is durable (or fn's error). fn may run
// more than once (when another write of its group fails, the others run
// again without it), as with bbolt's Batch: what it changes outside tx
// must be reset at its start.
func (g *groupCommit) write(fn func(*bolt.Tx) error) error {
	w := groupWrite{fn: fn, err: make(chan error, 1)}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return berrors.ErrDatabaseNotOpen
	}
	g.queue <- w
	g.mu.RUnlock()
	return <-w.err
}

// close commits the writes queued and stops the committer.
func (g *groupCommit) close() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.queue)
	}
	g.mu.Unlock()
	<-g.done
}

func (g *groupCommit) run() {
	defer close(g.done)
	for w := range g.queue {
		group := []groupWrite{w}
	gather:
		for len(group) < maxGroup {
			select {
			case w, ok := <-g.queue:
				if !ok {
					break gather
				}
				group = append(group, w)
			default:
				break gather
			}
		}
		g.commit(group)
	}
}

// commit runs group in one transaction. A write that fails is taken out
// and run alone, so that its error is its own; the others run again
// without it.
func (g *groupCommit) commit(group []groupWrite) {
	for len(group) > 0 {
		failed := -1
		err := g.db.Update(func(tx *bolt.Tx) error {
			for i, w := range group {
				if err := safely(w.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, w := range group {
				w.err <- err
			}
			return
		}
		w := group[failed]
		w.err <- g.db.Update(func(tx *bolt.Tx) error { return safely(w.fn, tx) })
		group = slices.Delete(group, failed, failed+1)
	}
}

// safely turns a panic of fn into its error: the committer serves every
// writer and must not die with one.
func safely(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store write panicked: %v", p)
		}
	}()
	return fn(tx)
}
