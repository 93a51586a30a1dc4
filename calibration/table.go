package calibration

import "strconv"

// Table lays the report out as rows: per model, one "all" row with the
// AUC, one row per band (top scores first) and one per threshold.
func (r Report) Table() ([]string, [][]string) {
	var rows [][]string
	for _, m := range r.Models {
		auc := "-"
		if m.AUC != nil {
			auc = f4(*m.AUC)
		}
		rows = append(rows, []string{m.Model, "all", "", "", i(m.Contacts), i(m.Converted), f4(rate(m.Converted, m.Contacts)), "1", "1", auc})
		for k, b := range m.Bands {
			rows = append(rows, []string{m.Model, "band " + strconv.Itoa(k+1), num(b.Min), num(b.Max), i(b.Contacts), i(b.Converted), f4(b.Rate), f2(b.Lift), "", ""})
		}
		for _, t := range m.Thresholds {
			rows = append(rows, []string{m.Model, "threshold " + t.Name, num(t.Score), "", i(t.Contacts), i(t.Converted), f4(t.Rate), "", f4(t.Recall), ""})
		}
	}
	return []string{"model", "row", "min", "max", "contacts", "converted", "rate", "lift", "recall", "auc"}, rows
}

func i(n int64) string     { return strconv.FormatInt(n, 10) }
func f4(x float64) string  { return strconv.FormatFloat(x, 'f', 4, 64) }
func f2(x float64) string  { return strconv.FormatFloat(x, 'f', 2, 64) }
func num(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
