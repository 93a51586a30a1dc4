package scoring

import (
	"math"
	"time"

	"github.com/scorebridge/scorebridge/rules"
)

// A decaying model's score is re-summed whenever its contact's time
// moves: every entry's points times 2^(-age/half-life), each rounded to a
// micro-point (contribution). math.Exp2 is most of that: ~25 ns an entry.
// Only the rounded value counts, and a cheaper 2^x a few ulps from
// math.Exp2's rounds the product to the same integer unless the product
// lies within those few ulps of a half: decayed computes the cheap one
// and, in that rare case, falls back to contribution itself. Its answers
// are contribution's, bit for bit (TestDecayedIsContribution; the
// published scores are compared exactly across replays).

// value is contribution's value for model mi: pts earned at t, worth at
// T.
func (e *Engine) value(mi int, pts rules.Points, t, T int64) rules.Points {
	m := e.Rules.Models[mi]
	if !m.Decays() || t >= T {
		return pts
	}
	return decayValue(pts, T-t, m.HalfLife, e.inverse[mi])
}

// decayValue is round(pts x 2^(-age/halfLife)) as contribution computes
// it, for age > 0 and halfLife > 0; inverse is 1/halfLife, so that the
// common case multiplies rather than divides (its exponent is then an ulp
// or so from contribution's, well inside decayTolerance).
func decayValue(pts rules.Points, age int64, halfLife time.Duration, inverse float64) rules.Points {
	x := -float64(age) * inverse
	// Past 2^-33 (an entry decays to nothing long before: see expiry),
	// and for points past 2^31 (no event earns that many), contribution
	// itself.
	if x < -33 || pts == 0 || pts > 1<<31 || pts < -1<<31 {
		return slowDecay(pts, age, halfLife)
	}
	p := float64(pts) * exp2Near(x)
	// |p| < 2^31: adding and taking away 1.5 x 2^52 rounds it to an
	// integer, a half to even (math.Round takes it away from zero: a
	// product that near a half goes to contribution anyway).
	const round = 0x1.8p52
	r := p + round - round
	// p's distance from the nearest half: were contribution's product
	// on the other side of it, it would be below the two products'
	// difference, which is below |p| x decayTolerance.
	if 0.5-math.Abs(p-r) <= math.Abs(p)*decayTolerance {
		return slowDecay(pts, age, halfLife)
	}
	return rules.Points(r)
}

// slowDecay is contribution's arithmetic itself.
func slowDecay(pts rules.Points, age int64, halfLife time.Duration) rules.Points {
	return rules.Points(math.Round(float64(pts) * math.Exp2(-float64(age)/float64(halfLife))))
}

// decayTolerance bounds, relative to the product, how far decayValue's
// product may lie from contribution's: exp2Near is within a few ulps
// (2^-52 each) of 2^x, math.Exp2 within one, the exponents differ by an
// ulp or two (times |x| <= 33 on 2^x), and each product rounds once:
// together below 2^-45; 2^-40 leaves a margin of 32x (TestExp2Near
// measures the worst error).
const decayTolerance = 0x1p-40

// exp2Tab[j] is 2^(j/256).
var exp2Tab = func() (t [256]float64) {
	for j := range t {
		t[j] = math.Exp2(float64(j) / 256)
	}
	return t
}()

// exp2Near is 2^x for x in [-33, 0] within a few ulps (not always
// math.Exp2's rounding): x = n/256 + r with |r| <= 1/512, 2^(n/256) from
// a table and a power of two, 2^r = e^(r ln 2) from its Taylor series to
// the 5th term (the rest is below 2^-54 for |r ln 2| <= 0.00136), in
// Estrin's order rather than Horner's: fewer steps wait on each other.
func exp2Near(x float64) float64 {
	// Adding 1.5 x 2^52 rounds x x 256 (exact, |x| < 2^12) to an integer
	// in the low bits of the sum.
	const round = 0x1.8p52
	n := int64(int32(math.Float64bits(x*256 + round)))
	r := (x - float64(n)/256) * math.Ln2 // x - n/256 is exact
	k := n >> 8                          // floor(n/256): n = 256k + j, j in [0, 256)
	j := n & 255
	r2 := r * r
	p := (1 + r) + r2*((1.0/2+r*(1.0/6))+r2*(1.0/24))
	scale := math.Float64frombits(uint64(1023+k) << 52) // 2^k, k >= -34
	return exp2Tab[j] * scale * p
}
