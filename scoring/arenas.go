package scoring

import "sync"

// arenas recycles the arenas that contacts grow out of, one Scorer's own.
//
// A contact's arena grows by a quarter at a time (see open), so a contact
// with a few dozen events has outgrown half a dozen arenas on the way.
// Left to the garbage collector, each outgrown one is an allocation that
// brings the next collection closer, and a collection must scan the whole
// heap. Kept here instead, it is handed to the next contact that grows to
// its size: contacts grow through the same sizes, so most growth reuses
// one. By hand: sync.Pool would box every slice it holds (an allocation
// per put) and shares across goroutines, which a Scorer does not need.
//
// Only arenas of the sizes the allocator itself rounds to are kept, up to
// a bound, so recycling wastes no memory on rounding and holds at most
// maxFreeWords words per Scorer.
type arenas struct {
	free  [maxClassWords + 1][][]uint64 // by capacity in words
	words int                           // held in all
}

const (
	maxClassWords = 512     // 4 KiB: larger arenas are rare and not kept
	maxFreeWords  = 1 << 17 // 1 MiB per Scorer
)

// classWords[w] is the capacity the allocator gives a request for w words
// (its size class): the arenas worth keeping have exactly that capacity.
var classWords = sync.OnceValue(func() []int {
	cw := make([]int, maxClassWords+1)
	for w := 1; w <= maxClassWords; w++ {
		if w > 1 && w <= cw[w-1] {
			cw[w] = cw[w-1]
			continue
		}
		cw[w] = min(cap(append([]uint64(nil), make([]uint64, w)...)), maxClassWords)
	}
	return cw
})

// get returns an arena of at least want words' capacity, of length 0.
func (a *arenas) get(want int) []uint64 {
	if want > maxClassWords {
		return append([]uint64(nil), make([]uint64, want)...)[:0]
	}
	c := classWords()[want]
	if a != nil {
		if l := a.free[c]; len(l) > 0 {
			out := l[len(l)-1]
			l[len(l)-1] = nil
			a.free[c] = l[:len(l)-1]
			a.words -= c
			return out[:0]
		}
	}
	return make([]uint64, 0, c)
}

// put keeps an arena no contact uses any longer, for a later get.
func (a *arenas) put(arena []uint64) {
	c := cap(arena)
	if a == nil || c == 0 || c > maxClassWords || classWords()[c] != c || a.words+c > maxFreeWords {
		return
	}
	a.free[c] = append(a.free[c], arena[:0])
	a.words += c
}
