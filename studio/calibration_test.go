package studio

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strconv"
	"testing"

	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/calibration"
)

// TestCalibrationAnswer: GET /api/calibration answers, byte for byte, the
// view built from two scorings of the history file: the report and
// population of `scorer calibrate` (calibration.FromHistory) and the
// simulator's buckets from a second pass (calibration.Scan) over the same
// population.
func TestCalibrationAnswer(t *testing.T) {
	f := newFixture(t, Config{})
	e := f.srv.current().engine
	open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }
	for _, c := range []struct{ asOf, conv, window string }{
		{"2026-10-14", "meeting_booked", "14d"},
		{"2026-10-14", "email_clicked", "14d"},
		{"2026-10-07", "form_submitted", "30d"},
		{"2026-10-21", "meeting_booked", "7d"},
	} {
		for _, bands := range []int{10, 4} {
			q, err := calibration.ParseQuery(c.asOf, c.conv, c.window, bands)
			if err != nil {
				t.Fatal(err)
			}
			in, _ := open()
			rep, _, pop, err := calibration.FromHistory(e, in, open, q, nil)
			if err != nil {
				t.Fatal(err)
			}
			counts := map[string]map[float64]*SimBucket{}
			in, _ = open()
			_, _, err = calibration.Scan(e, in, open, q, nil, func(l *backtest.Line, conv bool) error {
				if counts[l.Model] == nil {
					counts[l.Model] = map[float64]*SimBucket{}
				}
				b := counts[l.Model][l.Score]
				if b == nil {
					b = &SimBucket{Score: l.Score}
					counts[l.Model][l.Score] = b
				}
				b.Contacts++
				if conv {
					b.Converted++
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := CalibrationView{
				Query: map[string]string{"as_of": c.asOf, "window": c.window, "conversion": c.conv, "bands": strconv.Itoa(bands)},
				Types: f.srv.current().types, Report: &rep, Population: pop,
				Buckets: map[string][]SimBucket{}, Thresholds: map[string][]Threshold{},
			}
			for _, m := range e.Rules.Models {
				bs := []SimBucket{}
				for _, b := range counts[m.Name] {
					bs = append(bs, *b)
				}
				sort.Slice(bs, func(i, j int) bool { return bs[i].Score > bs[j].Score })
				want.Buckets[m.Name], want.Thresholds[m.Name] = bs, thresholdsOf(m)
			}
			var wantJSON bytes.Buffer
			if err := json.NewEncoder(&wantJSON).Encode(want); err != nil {
				t.Fatal(err)
			}
			if pop.Converted == 0 {
				t.Fatalf("%+v: no conversion in the window: the case tests little", c)
			}
			path := "/api/calibration?as_of=" + c.asOf + "&conversion=" + c.conv + "&window=" + c.window + "&bands=" + strconv.Itoa(bands)
			resp, err := http.Get(f.ts.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
			}
			if !bytes.Equal(got, wantJSON.Bytes()) {
				t.Errorf("GET %s:\n got %s\nwant %s", path, got, wantJSON.Bytes())
			}
		}
	}
}
