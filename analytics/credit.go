package analytics

import (
	"fmt"
	"math"
	"strings"
)

// Model is an attribution model.
type Model string

// Attribution models.
const (
	ModelFirst     Model = "first"
	ModelLast      Model = "last"
	ModelLinear    Model = "linear"
	ModelU         Model = "u"
	ModelW         Model = "w"
	ModelTimeDecay Model = "time-decay"
)

// Models lists every model, in the order help texts show them.
var Models = []Model{ModelFirst, ModelLast, ModelLinear, ModelU, ModelW, ModelTimeDecay}

// ParseModel accepts a model name (also "u-shaped", "w-shaped", "decay").
func ParseModel(s string) (Model, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "first", "first-touch", "first_touch":
		return ModelFirst, nil
	case "last", "last-touch", "last_touch":
		return ModelLast, nil
	case "linear":
		return ModelLinear, nil
	case "u", "u-shaped", "u_shaped", "position":
		return ModelU, nil
	case "w", "w-shaped", "w_shaped":
		return ModelW, nil
	case "time-decay", "time_decay", "decay":
		return ModelTimeDecay, nil
	}
	return "", fmt.Errorf("unknown attribution model %q (want one of first, last, linear, u, w, time-decay)", s)
}

// decayHalfLifeMicros is the time-decay half-life: 7 days.
const decayHalfLifeMicros = 7 * 24 * 3600 * 1_000_000

// credit returns each touch's share of one conversion; shares sum to 1.
// ts are the touch times in microseconds, ascending; conv is the conversion
// time; key is the index of the W-shape key touch (the one that made the
// contact first cross a threshold) or -1. It is pure so the reference
// implementation in the tests can hold it to the spec.
func credit(m Model, ts []int64, conv int64, key int) []float64 {
	n := len(ts)
	if n == 0 {
		return nil
	}
	out := make([]float64, n)
	switch m {
	case ModelFirst:
		out[0] = 1
	case ModelLast:
		out[n-1] = 1
	case ModelLinear:
		for i := range out {
			out[i] = 1 / float64(n)
		}
	case ModelU:
		positional(out, 0.4, 0.4, 0, -1, 0.2)
	case ModelW:
		positional(out, 0.3, 0.3, 0.3, key, 0.1)
	case ModelTimeDecay:
		sum := 0.0
		for i, t := range ts {
			out[i] = math.Exp2(-float64(conv-t) / decayHalfLifeMicros)
			sum += out[i]
		}
		if sum == 0 || math.IsInf(sum, 0) || math.IsNaN(sum) {
			for i := range out {
				out[i] = 1 / float64(n)
			}
			return out
		}
		for i := range out {
			out[i] /= sum
		}
	}
	return out
}

// positional gives first, last and key shares to their touches and splits
// rest over the touches that are none of those. A share whose position
// does not exist (no middle touches, key touch absent or equal to the first
// or last) is spread equally over all touches, so one touch gets 100% and
// U-shaped with two touches gives 50/50.
func positional(out []float64, first, last, keyShare float64, key int, rest float64) {
	n := len(out)
	spread := 0.0
	out[0] += first
	out[n-1] += last
	hasKey := key > 0 && key < n-1
	if hasKey {
		out[key] += keyShare
	} else {
		spread += keyShare
	}
	middle := n - 2
	if hasKey {
		middle--
	}
	if middle > 0 {
		for i := 1; i < n-1; i++ {
			if !hasKey || i != key {
				out[i] += rest / float64(middle)
			}
		}
	} else {
		spread += rest
	}
	if spread > 0 {
		for i := range out {
			out[i] += spread / float64(n)
		}
	}
}
