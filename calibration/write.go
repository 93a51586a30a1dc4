package calibration

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"

	"github.com/scorebridge/scorebridge/rules"
)

// Improves reports whether the fitted points rank the holdout better than
// the current ones.
func (r FitResult) Improves() bool {
	return r.AUCBefore != nil && r.AUCAfter != nil && *r.AUCAfter > *r.AUCBefore
}

// ErrNoGain is WriteRuleFile's refusal of points that do not raise the
// holdout AUC.
var ErrNoGain = errors.New("no file written: the suggested points do not raise the holdout AUC")

// WriteRuleFile writes the fitted rule file (r.Source) into dir under the
// name of the model's file (r.File) and returns its path. Unless force,
// points that do not raise the holdout AUC are refused (ErrNoGain, nothing
// written). It never writes over the model's own file, and removes a file
// it wrote that does not load: no rule file is left behind that would
// fail the scorer.
func WriteRuleFile(dir string, r FitResult, force bool) (string, error) {
	if !force && !r.Improves() {
		return "", fmt.Errorf("%w (%s before, %s after)", ErrNoGain, optAUC(r.AUCBefore), optAUC(r.AUCAfter))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, filepath.Base(r.File))
	if samePath(path, r.File) {
		return "", fmt.Errorf("%s would overwrite %s: write elsewhere, then rules check and rescore", path, r.File)
	}
	if err := os.WriteFile(path, r.Source, 0o644); err != nil {
		return "", err
	}
	if _, err := rules.Load(path); err != nil {
		_ = os.Remove(path)
		return "", fmt.Errorf("%s (removed): %w", path, err)
	}
	return path, nil
}

// samePath reports whether a and b name one file, compared as absolute
// paths.
func samePath(a, b string) bool {
	a1, _ := filepath.Abs(a)
	b1, _ := filepath.Abs(b)
	return a1 == b1
}

// WriteTable prints the fit as `scorer fit` shows it: a row per group
// (old and new points, the group's matches and conversions), then the
// holdout's AUC before and after.
func (r FitResult) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "group\told points\tnew points\tmatched\tconverted\trate")
	for _, g := range r.Groups {
		old, nw := g.Old, g.New
		if _, err := strconv.ParseFloat(old, 64); err != nil {
			old, nw = "(expression)", "(expression)"
		}
		if !g.Fitted {
			nw += " kept"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%.4f\n", g.Group, old, nw, g.Matched, g.Converted, g.Rate)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nholdout: %d contacts, %d conversions; AUC %s before, %s after (fit on %d contacts, %d conversions)\n",
		r.HoldoutContacts, r.HoldoutConversions, optAUC(r.AUCBefore), optAUC(r.AUCAfter), r.FitContacts, r.FitConversions)
	return err
}

func optAUC(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.4f", *p)
}
