package rules

import (
	"fmt"
	"math"
	"strconv"
)

// Points are fixed-point micro-points (1e-6 of a point). Sums of integers
// are exact and independent of order, which floating point sums are not;
// that is what lets a contact's score depend only on its set of events.
type Points = int64

// Scale is the number of micro-points in a point.
const Scale = 1_000_000

// MaxPoints bounds every cap and threshold, so that sums of millions of
// events cannot overflow int64.
const MaxPoints = 1_000_000

// MaxEventPoints bounds what one event earns in one group (HubSpot scores
// live in the hundreds); it lets the state keep a match in 16 bytes.
const MaxEventPoints = 2_000

// ToEventPoints converts what a group awards one event.
func ToEventPoints(f float64) (Points, error) {
	if math.Abs(f) > MaxEventPoints {
		return 0, fmt.Errorf("points %v out of range (one event earns at most %d in absolute value)", f, MaxEventPoints)
	}
	return ToPoints(f)
}

// ToPoints converts a number of points to micro-points, rounding half away
// from zero.
func ToPoints(f float64) (Points, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("points must be a finite number, got %v", f)
	}
	if math.Abs(f) > MaxPoints {
		return 0, fmt.Errorf("points %v out of range (at most %d in absolute value)", f, MaxPoints)
	}
	return Points(math.Round(f * Scale)), nil
}

// Float converts micro-points back to points.
func Float(p Points) float64 { return float64(p) / Scale }

// FormatPoints prints micro-points as a short decimal number.
func FormatPoints(p Points) string {
	return strconv.FormatFloat(Float(p), 'f', -1, 64)
}
