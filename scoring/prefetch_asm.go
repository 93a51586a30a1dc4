//go:build amd64 || arm64

package scoring

// prefetch asks the CPU to bring the cache line at addr into its cache,
// without waiting for it and without faulting on any address. By hand, in
// one instruction of assembly: Go has no prefetch intrinsic outside its
// runtime, and no library offers one.
//
//go:noescape
func prefetch(addr uintptr)
