package enrollment

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Writes that arrive while a commit runs share the next transaction (one
// fsync for all of them); a write alone commits at once; a failing write
// gets its own error and the others of its group still commit; a closed
// store refuses writes.
func TestGroupCommit(t *testing.T) {
	st, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	txid := func() (id int) {
		st.db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil })
		return id
	}
	put := func(key string) func(*bolt.Tx) error {
		return func(tx *bolt.Tx) error { return tx.Bucket(bucketProcessed).Put([]byte(key), []byte("{}")) }
	}
	before := txid()
	start := time.Now()
	if err := st.gc.write(put("alone")); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); txid() != before+1 || took > time.Second {
		t.Fatalf("a write alone: %d commits, %s", txid()-before, took)
	}

	// Hold the committer in a first write while 20 more queue up.
	before = txid()
	release, entered := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := st.gc.write(func(tx *bolt.Tx) error {
			select {
			case <-entered:
			default:
				close(entered)
			}
			<-release
			return put("first")(tx)
		}); err != nil {
			t.Error(err)
		}
	}()
	<-entered
	refused := errors.New("refused")
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 7 {
				errs[i] = st.gc.write(func(*bolt.Tx) error { return refused })
				return
			}
			errs[i] = st.gc.write(put(fmt.Sprint("k", i)))
		}()
	}
	for len(st.gc.queue) < len(errs) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		if (i == 7) != (err != nil) || (i == 7 && err != refused) {
			t.Errorf("write %d: %v", i, err)
		}
	}
	// The held write, then the 19 others together (their first try with
	// the refused one was rolled back; the refused one ran alone, and
	// bbolt counts no commit for a failed transaction).
	if n := txid() - before; n != 2 {
		t.Errorf("%d commits for 21 writes queued together, want 2", n)
	}
	st.db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketProcessed).Stats().KeyN; n != 21 {
			t.Errorf("%d keys stored, want 21", n)
		}
		return nil
	})
	st.Close()
	if err := st.gc.write(put("late")); !errors.Is(err, berrors.ErrDatabaseNotOpen) {
		t.Errorf("a write after Close: %v", err)
	}
}
