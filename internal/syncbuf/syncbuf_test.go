package syncbuf

import (
	"strings"
	"sync"
	"testing"
)

// Writers in many goroutines lose nothing, and a reader meanwhile sees
// whole writes (run with -race).
func TestBufferConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				b.Write([]byte("line\n"))
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if n := strings.Count(b.String(), "line\n"); n != 800 || len(b.String()) != 800*5 {
		t.Fatalf("%d lines, %d bytes; want 800 lines", n, len(b.String()))
	}
}
