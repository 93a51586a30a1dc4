package analytics

import (
	"math"
	"testing"
)

const day = int64(24 * 3600 * 1_000_000)

// Shares straight from the spec in issue 4 and domain.md, including the
// "missing positions are spread over the touches that exist" rules.
func TestCreditShares(t *testing.T) {
	ts := func(n int) []int64 {
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(i) * day
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		model Model
		n     int
		key   int
		want  []float64
	}{
		{"first", ModelFirst, 3, -1, []float64{1, 0, 0}},
		{"last", ModelLast, 3, -1, []float64{0, 0, 1}},
		{"linear", ModelLinear, 4, -1, []float64{.25, .25, .25, .25}},
		{"u one touch", ModelU, 1, -1, []float64{1}},
		{"u two touches 50/50", ModelU, 2, -1, []float64{.5, .5}},
		{"u three", ModelU, 3, -1, []float64{.4, .2, .4}},
		{"u five", ModelU, 5, -1, []float64{.4, .2 / 3, .2 / 3, .2 / 3, .4}},
		{"w one touch", ModelW, 1, -1, []float64{1}},
		{"w two touches", ModelW, 2, -1, []float64{.5, .5}},
		{"w key in the middle of three", ModelW, 3, 1, []float64{.3 + .1/3, .3 + .1/3, .3 + .1/3}},
		{"w key in the middle of five", ModelW, 5, 2, []float64{.3, .05, .3, .05, .3}},
		{"w key absent: 30% spread", ModelW, 4, -1, []float64{.3 + .075, .05 + .075, .05 + .075, .3 + .075}},
		{"w key is first: spread", ModelW, 4, 0, []float64{.3 + .075, .05 + .075, .05 + .075, .3 + .075}},
		{"w key is last: spread", ModelW, 4, 3, []float64{.3 + .075, .05 + .075, .05 + .075, .3 + .075}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := credit(tc.model, ts(tc.n), int64(tc.n)*day, tc.key)
			assertShares(t, got, tc.want)
		})
	}
}

// Time decay: a touch 7 days older than another gets half its weight.
func TestCreditTimeDecay(t *testing.T) {
	conv := 30 * day
	got := credit(ModelTimeDecay, []int64{conv - 14*day, conv - 7*day, conv - 1}, conv, -1)
	// weights 1/4, 1/2, ~1 -> normalised by ~1.75
	w := []float64{0.25, 0.5, math.Exp2(-1.0 / decayHalfLifeMicros)}
	sum := w[0] + w[1] + w[2]
	assertShares(t, got, []float64{w[0] / sum, w[1] / sum, w[2] / sum})
}

func assertShares(t *testing.T, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d shares %v, want %v", len(got), got, want)
	}
	sum := 0.0
	for i := range got {
		sum += got[i]
		if math.Abs(got[i]-want[i]) > 1e-9 {
			t.Fatalf("shares %v, want %v", got, want)
		}
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Fatalf("shares sum to %v", sum)
	}
}

func TestParseModel(t *testing.T) {
	for in, want := range map[string]Model{"first": ModelFirst, "U-shaped": ModelU, "w": ModelW, "decay": ModelTimeDecay, "time-decay": ModelTimeDecay, "linear": ModelLinear, "last": ModelLast} {
		got, err := ParseModel(in)
		if err != nil || got != want {
			t.Errorf("ParseModel(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseModel("z"); err == nil {
		t.Error("ParseModel(z) accepted an unknown model")
	}
}
