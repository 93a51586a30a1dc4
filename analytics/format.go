package analytics

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is anything Write can print: a table for table/csv, itself for json.
type Report interface {
	Table() (header []string, rows [][]string)
}

// Formats Write accepts.
var Formats = []string{"table", "csv", "json"}

// Write prints a report as an aligned table, CSV or indented JSON.
func Write(w io.Writer, format string, r Report) error {
	switch format {
	case "", "table":
		h, rows := r.Table()
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(h, "\t"))
		for _, row := range rows {
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if f, ok := r.(interface{ footer() string }); ok {
			_, err := fmt.Fprintln(w, f.footer())
			return err
		}
		return nil
	case "csv":
		h, rows := r.Table()
		cw := csv.NewWriter(w)
		if err := cw.Write(h); err != nil {
			return err
		}
		if err := cw.WriteAll(rows); err != nil {
			return err
		}
		cw.Flush()
		return cw.Error()
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(emptyLists(r))
	}
	return fmt.Errorf("unknown format %q (want table, csv or json)", format)
}

// emptyLists returns a copy of a report struct whose nil slices are empty,
// so an empty list prints as [] (which `jq '.rows[]'` iterates) and not
// null (which it refuses).
func emptyLists(r Report) any {
	v := reflect.ValueOf(r)
	if v.Kind() != reflect.Struct {
		return r
	}
	c := reflect.New(v.Type()).Elem()
	c.Set(v)
	for i := 0; i < c.NumField(); i++ {
		f := c.Field(i)
		if f.Kind() == reflect.Slice && f.IsNil() && f.CanSet() {
			f.Set(reflect.MakeSlice(f.Type(), 0, 0))
		}
	}
	return c.Interface()
}

// Points renders micro-points as points with up to 6 decimals.
func Points(micro int64) string {
	return strconv.FormatFloat(float64(micro)/MicroPoints, 'f', -1, 64)
}

func f4(x float64) string { return strconv.FormatFloat(x, 'f', 4, 64) }

func secs(s float64) string {
	if s < 0 {
		return "-"
	}
	return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
}

// Table implements Report.
func (r AttributionReport) Table() ([]string, [][]string) {
	rows := make([][]string, len(r.Rows))
	for i, x := range r.Rows {
		rows[i] = []string{x.Key, f4(x.Credit), strconv.FormatInt(x.Conversions, 10)}
	}
	return []string{"key", "credit", "conversions"}, rows
}

func (r AttributionReport) footer() string {
	return fmt.Sprintf("\n%d conversions of %s (model %s, by %s, lookback %s): %d attributed, %d without touches",
		r.Conversions, r.Conversion, r.Model, r.By, r.Lookback, r.Attributed, r.NoTouch)
}

// Table implements Report.
func (r CadenceReport) Table() ([]string, [][]string) {
	rows := make([][]string, len(r.Rows))
	for i, x := range r.Rows {
		rows[i] = []string{x.Key, strconv.FormatInt(x.Enrolled, 10), strconv.FormatInt(x.Replied, 10),
			strconv.FormatInt(x.MeetingBooked, 10), strconv.FormatInt(x.Unenrolled, 10), formatReasons(x.UnenrolledByReason),
			strconv.FormatFloat(x.TouchesBeforeEnrollment, 'f', 1, 64),
			secs(x.MedianCrossingToEnrollment), secs(x.MedianEnrollmentToResponse)}
	}
	return []string{r.By, "enrolled", "replied", "meeting_booked", "unenrolled", "unenrolled_by_reason",
		"avg_touches_before", "median_crossing_to_enroll", "median_enroll_to_response"}, rows
}

// Table implements Report.
func (r TimelineReport) Table() ([]string, [][]string) {
	rows := make([][]string, len(r.Entries))
	for i, e := range r.Entries {
		rows[i] = []string{e.At.Format(time.RFC3339), e.Type, e.Channel, e.Campaign, modelPoints(e.Delta, true),
			modelPoints(e.ScoreAfter, false), strings.Join(e.Crossings, " "), e.EventID}
	}
	return []string{"at", "type", "channel", "campaign", "delta", "score", "crossed", "event_id"}, rows
}

func modelPoints(m map[string]int64, sign bool) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		p := Points(m[k])
		if sign && m[k] >= 0 {
			p = "+" + p
		}
		parts[i] = k + ":" + p
	}
	return strings.Join(parts, " ")
}

// Table implements Report.
func (r DecisionsReport) Table() ([]string, [][]string) {
	rows := make([][]string, len(r.Decisions))
	for i, d := range r.Decisions {
		rows[i] = []string{d.DecidedAt.Format(time.RFC3339), d.Outcome, d.Reason, d.Model, d.TargetKind + ":" + d.TargetID,
			d.Sender, d.CrossingID, d.DecisionID}
	}
	return []string{"at", "outcome", "reason", "model", "target", "sender", "crossing_id", "decision_id"}, rows
}

// Table implements Report.
func (r APICallsReport) Table() ([]string, [][]string) {
	rows := make([][]string, len(r.Calls))
	for i, c := range r.Calls {
		rows[i] = []string{c.At.Format(time.RFC3339), c.Method, c.Path, strconv.FormatInt(c.Status, 10),
			strconv.FormatInt(c.LatencyMS, 10), c.CorrelationID, c.Error, c.CallID}
	}
	return []string{"at", "method", "path", "status", "latency_ms", "correlation_id", "error", "call_id"}, rows
}
