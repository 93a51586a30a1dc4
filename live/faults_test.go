package live

import (
	"fmt"
	"sync"
	"testing"
)

// A durable step that fails with --state-dir must not leave a snapshot
// holding the failed batch: the restart would trust it, take the batch's
// events for duplicates, and their crossings and states would never be
// written. Each step is failed in turn, three times, each failure
// followed by a restart over the same state directory.
func TestStateDirFailedStepIsReplayed(t *testing.T) {
	for _, step := range []string{"dead_letters", "crossings", "history", "state"} {
		t.Run(step, func(t *testing.T) {
			e := setup(t, 120)
			e.stateDir = t.TempDir()
			var mu sync.Mutex
			calls, failures := 0, 0
			crashes := e.runUntilDone(t, func(s string) error {
				mu.Lock()
				defer mu.Unlock()
				if s != step {
					return nil
				}
				calls++
				if calls%4 == 3 && failures < 3 {
					failures++
					return fmt.Errorf("injected failure of %s (call %d)", s, calls)
				}
				return nil
			})
			if crashes == 0 {
				t.Fatal("no failure injected")
			}
			t.Logf("%d failures of %s injected", crashes, step)
			checkAgainstBacktest(t, e)
		})
	}
}
