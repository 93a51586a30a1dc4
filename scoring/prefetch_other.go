//go:build !amd64 && !arm64

package scoring

// prefetch does nothing where there is no assembly version: ApplyBatch is
// then Apply in a loop.
func prefetch(addr uintptr) {}
