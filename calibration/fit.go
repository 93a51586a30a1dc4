package calibration

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/cespare/xxhash/v2"
	"gonum.org/v1/gonum/optimize"

	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

// FitOptions drive Fit.
type FitOptions struct {
	Query
	// Lambda is the L2 penalty on the per-event weights (logit units).
	Lambda float64
	// FreeSigns lets a group's points change sign; by default a group
	// that adds points keeps adding and one that takes keeps taking.
	FreeSigns bool
	// MinConversions is the fewest conversions each half (fit, holdout)
	// must hold.
	MinConversions int
}

// Fit defaults.
const (
	DefaultLambda         = 1.0
	DefaultMinConversions = 30
)

// GroupFit is one group's line of the fit table.
type GroupFit struct {
	Group string `json:"group"`
	Old   string `json:"old_points"`
	New   string `json:"new_points"`
	// Fitted is false for groups whose points are an expression or zero,
	// or that no contact of the fit half matched: their points are kept.
	Fitted bool `json:"fitted"`
	// Matched counts contacts of the population with a counted event in
	// the group at T0; Rate is the conversion rate among them.
	Matched   int64   `json:"matched"`
	Converted int64   `json:"converted"`
	Rate      float64 `json:"rate"`
	weight    float64 // fitted logit per counted event
}

// FitResult is the outcome of Fit: new points, the rule file carrying
// them, and the holdout evaluation.
type FitResult struct {
	Model              string     `json:"model"`
	File               string     `json:"file"`
	Groups             []GroupFit `json:"groups"`
	FitContacts        int64      `json:"fit_contacts"`
	FitConversions     int64      `json:"fit_conversions"`
	HoldoutContacts    int64      `json:"holdout_contacts"`
	HoldoutConversions int64      `json:"holdout_conversions"`
	AUCBefore          *float64   `json:"holdout_auc_before"`
	AUCAfter           *float64   `json:"holdout_auc_after"`
	Source             []byte     `json:"-"` // the new rule file
}

// Holdout reports whether a contact belongs to the holdout half: a hash
// of its id, so the split is stable across runs and files.
func Holdout(contactID string) bool { return xxhash.Sum64String(contactID)&1 == 1 }

// ErrTooFewConversions is returned when a half holds fewer conversions
// than FitOptions.MinConversions.
var ErrTooFewConversions = errors.New("too few conversions to fit")

type sample struct {
	x       []float64
	y       bool
	holdout bool
}

// Fit suggests points for model m of e that predict conversions better,
// by a regularised logistic regression on one half of the contacts, and
// measures the old and new scores on the other half. history is scored
// twice (File reads it again each time); src is m's rule file.
//
// A group's feature is its sum at T0 divided by its points: the number of
// counted events, with the group's window, first-match rule and decay
// applied as they are, and its cap turned into a count (max / points).
// Caps stay as written in points, so a group whose points rise reaches its
// cap in fewer events; the holdout AUC "after" is measured with the new
// file exactly as it will score.
func Fit(e *scoring.Engine, m *rules.Model, src []byte, history Source, opts FitOptions, badLine func(*events.LineError)) (FitResult, error) {
	res := FitResult{Model: m.Name, File: m.File}
	if err := opts.Validate(); err != nil {
		return res, err
	}
	if opts.MinConversions < 1 {
		opts.MinConversions = DefaultMinConversions
	}
	// Which groups are fitted, and their current points.
	old := make([]float64, len(m.Groups))
	col := map[string]int{} // fitted group -> feature column
	var fitted []int
	for gi, g := range m.Groups {
		res.Groups = append(res.Groups, GroupFit{Group: g.Name, Old: g.Points, New: g.Points})
		if g.PointsSign() == 0 {
			continue
		}
		p, err := strconv.ParseFloat(g.Points, 64)
		if err != nil || p == 0 {
			continue
		}
		old[gi] = p
		col[g.Name] = len(fitted)
		fitted = append(fitted, gi)
		res.Groups[gi].Fitted = true
	}
	if len(fitted) == 0 {
		return res, fmt.Errorf("model %s: no group has fixed, non-zero points to fit", m.Name)
	}
	index := map[string]int{}
	for gi, g := range m.Groups {
		index[g.Name] = gi
	}
	one := &rules.Set{Models: []*rules.Model{m}, Version: e.Rules.Version}
	e1, err := scoring.NewEngine(one)
	if err != nil {
		return res, err
	}
	var samples []sample
	var before []Bucket
	err = scan(e1, history, opts.Query, badLine, func(l *backtest.Line, conv bool) {
		s := sample{x: make([]float64, len(fitted)), y: conv, holdout: Holdout(l.ContactID)}
		for name, v := range l.Groups {
			gi := index[name]
			if v != 0 {
				res.Groups[gi].Matched++
				if conv {
					res.Groups[gi].Converted++
				}
			}
			if c, ok := col[name]; ok {
				s.x[c] = v / old[gi]
			}
		}
		samples = append(samples, s)
		if s.holdout {
			before = append(before, Bucket{Score: micro(l.Score), Contacts: 1, Converted: b2i(conv)})
		}
	})
	if err != nil {
		return res, err
	}
	for i := range res.Groups {
		res.Groups[i].Rate = rate(res.Groups[i].Converted, res.Groups[i].Matched)
	}
	// A group no contact of the fit half matched says nothing about
	// conversions: its points are kept rather than shrunk to zero.
	seenInFit := make([]bool, len(fitted))
	for _, s := range samples {
		for c, v := range s.x {
			seenInFit[c] = seenInFit[c] || !s.holdout && v != 0
		}
	}
	var keep []int
	for c, gi := range fitted {
		if seenInFit[c] {
			keep = append(keep, c)
			continue
		}
		res.Groups[gi].Fitted = false
	}
	if len(keep) < len(fitted) {
		nf := make([]int, len(keep))
		for j, c := range keep {
			nf[j] = fitted[c]
		}
		for i := range samples {
			x := make([]float64, len(keep))
			for j, c := range keep {
				x[j] = samples[i].x[c]
			}
			samples[i].x = x
		}
		fitted = nf
	}
	if len(fitted) == 0 {
		return res, fmt.Errorf("model %s: no group with fixed points matched a contact of the fit half at T0", m.Name)
	}
	for _, s := range samples {
		if s.holdout {
			res.HoldoutContacts++
			res.HoldoutConversions += b2i(s.y)
		} else {
			res.FitContacts++
			res.FitConversions += b2i(s.y)
		}
	}
	if res.FitConversions < int64(opts.MinConversions) || res.HoldoutConversions < int64(opts.MinConversions) {
		return res, fmt.Errorf("%w: model %s has %d conversions in the fit half and %d in the holdout half (of %d contacts); each half needs at least %d for the fit to mean anything: widen --window, move --as-of earlier or wait for more history",
			ErrTooFewConversions, m.Name, res.FitConversions, res.HoldoutConversions, len(samples), opts.MinConversions)
	}
	signs := make([]float64, len(fitted))
	for c, gi := range fitted {
		signs[c] = math.Copysign(1, old[gi])
		if opts.FreeSigns {
			signs[c] = 0
		}
	}
	w, err := logistic(samples, signs, opts.Lambda)
	if err != nil {
		return res, fmt.Errorf("model %s: %w", m.Name, err)
	}
	newPts := toPoints(samples, fitted, old, w)
	edits := map[string]string{}
	for c, gi := range fitted {
		res.Groups[gi].weight = w[c]
		res.Groups[gi].New = strconv.FormatInt(newPts[c], 10)
		edits[m.Groups[gi].Name] = res.Groups[gi].New
	}
	res.Source, err = RewritePoints(src, edits)
	if err != nil {
		return res, fmt.Errorf("%s: %w", m.File, err)
	}
	nm, err := rules.Parse(m.File, res.Source)
	if err != nil {
		return res, fmt.Errorf("the new points do not compile (%s): %w", m.File, err)
	}
	e2, err := scoring.NewEngine(&rules.Set{Models: []*rules.Model{nm}, Version: "fit"})
	if err != nil {
		return res, err
	}
	var after []Bucket
	err = scan(e2, history, opts.Query, nil, func(l *backtest.Line, conv bool) {
		if Holdout(l.ContactID) {
			after = append(after, Bucket{Score: micro(l.Score), Contacts: 1, Converted: b2i(conv)})
		}
	})
	if err != nil {
		return res, err
	}
	res.AUCBefore = Summarize(m.Name, before, nil, 1).AUC
	res.AUCAfter = Summarize(m.Name, after, nil, 1).AUC
	return res, nil
}

func scan(e *scoring.Engine, history Source, q Query, badLine func(*events.LineError), fn func(*backtest.Line, bool)) error {
	_, _, err := ScanSource(e, history, q, badLine, func(l *backtest.Line, conv bool) error { fn(l, conv); return nil })
	return err
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// logistic fits P(convert) = σ(b + Σ β_c x_c) on the fit half by L-BFGS,
// minimising the log loss plus lambda/2 Σ β². A column with sign s ≠ 0
// is held to that sign through β = s·softplus(θ).
func logistic(samples []sample, signs []float64, lambda float64) ([]float64, error) {
	k := len(signs)
	var xs [][]float64
	var ys []float64
	var pos float64
	for _, s := range samples {
		if s.holdout {
			continue
		}
		xs = append(xs, s.x)
		y := 0.0
		if s.y {
			y, pos = 1, pos+1
		}
		ys = append(ys, y)
	}
	n := float64(len(xs))
	if pos == 0 || pos == n {
		// The intercept's start, log(pos/(n-pos)), would be infinite and
		// there is nothing to tell apart: say so rather than let the
		// optimiser fail on an infinite start.
		return nil, fmt.Errorf("the fit half has %.0f contacts and %.0f of them converted: a fit needs both converted and non-converted contacts", n, pos)
	}
	beta := func(theta []float64, c int) (b, db float64) {
		if signs[c] == 0 {
			return theta[1+c], 1
		}
		t := theta[1+c]
		return signs[c] * softplus(t), signs[c] * sigmoid(t)
	}
	betas := make([]float64, k)
	dbs := make([]float64, k)
	// eval returns the objective and, when grad is not nil, its gradient.
	eval := func(grad, theta []float64) float64 {
		for c := range betas {
			betas[c], dbs[c] = beta(theta, c)
		}
		if grad != nil {
			clear(grad)
		}
		var loss float64
		for i, x := range xs {
			z := theta[0]
			for c, v := range x {
				z += betas[c] * v
			}
			loss += softplus(z) - ys[i]*z
			if grad != nil {
				r := sigmoid(z) - ys[i]
				grad[0] += r
				for c, v := range x {
					grad[1+c] += r * v
				}
			}
		}
		for c, b := range betas {
			loss += lambda / 2 * b * b
			if grad != nil {
				grad[1+c] = (grad[1+c] + lambda*b) * dbs[c]
			}
		}
		return loss
	}
	x0 := make([]float64, 1+k)
	x0[0] = math.Log(pos / (n - pos))
	p := optimize.Problem{
		Func: func(theta []float64) float64 { return eval(nil, theta) },
		Grad: func(grad, theta []float64) { eval(grad, theta) },
	}
	r, err := optimize.Minimize(p, x0, &optimize.Settings{GradientThreshold: 1e-6, MajorIterations: 1000}, &optimize.LBFGS{})
	if err != nil && r == nil {
		return nil, fmt.Errorf("logistic regression: %w", err)
	}
	if err != nil && !errors.Is(err, optimize.ErrLinesearcherFailure) {
		return nil, fmt.Errorf("logistic regression: %w", err)
	}
	for c := range betas {
		betas[c], _ = beta(r.X, c)
	}
	return betas, nil
}

func softplus(z float64) float64 { return math.Max(z, 0) + math.Log1p(math.Exp(-math.Abs(z))) }
func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// toPoints turns logit weights into whole points on the model's scale:
// the factor is chosen so the fitted groups add up, on average over the
// fit half, to what they add up to now (thresholds keep their meaning as
// far as the new weights allow).
func toPoints(samples []sample, fitted []int, old, w []float64) []int64 {
	mean := make([]float64, len(fitted))
	n := 0.0
	for _, s := range samples {
		if s.holdout {
			continue
		}
		n++
		for c, v := range s.x {
			mean[c] += v
		}
	}
	var oldSum, newSum, oldMax, newMax float64
	for c, gi := range fitted {
		mean[c] /= math.Max(n, 1)
		oldSum += old[gi] * mean[c]
		newSum += w[c] * mean[c]
		oldMax = math.Max(oldMax, math.Abs(old[gi]))
		newMax = math.Max(newMax, math.Abs(w[c]))
	}
	scale := 1.0
	switch {
	case oldSum > 0 && newSum > 0, oldSum < 0 && newSum < 0:
		scale = oldSum / newSum
	case newMax > 0:
		scale = oldMax / newMax
	}
	out := make([]int64, len(fitted))
	for c := range fitted {
		p := math.Round(w[c] * scale)
		p = math.Max(-rules.MaxEventPoints, math.Min(rules.MaxEventPoints, p))
		out[c] = int64(p)
	}
	return out
}
