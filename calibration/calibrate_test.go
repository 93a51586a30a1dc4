package calibration

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

var t0 = time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC)

func engine(t *testing.T, paths ...string) *scoring.Engine {
	t.Helper()
	set, err := rules.Load(paths...)
	if err != nil {
		t.Fatal(err)
	}
	e, err := scoring.NewEngine(set)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// ev is one JSONL line: id, contact, type, time relative to t0.
func ev(id, contact, typ string, at time.Duration) string {
	return fmt.Sprintf(`{"id":%q,"type":%q,"contact_id":%q,"occurred_at":%q}`, id, typ, contact, t0.Add(at).Format(time.RFC3339Nano))
}

type got struct {
	score float64
	conv  bool
}

func scanText(t *testing.T, e *scoring.Engine, q Query, lines ...string) (map[string]got, Population) {
	t.Helper()
	in := strings.Join(lines, "\n") + "\n"
	out := map[string]got{}
	_, pop, err := Scan(e, strings.NewReader(in), func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(in)), nil }, q, nil,
		func(l *backtest.Line, conv bool) error {
			out[l.ContactID] = got{l.Score, conv}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return out, pop
}

const day = 24 * time.Hour

// Each clause of the semantics, on a hand-made history.
func TestSemantics(t *testing.T) {
	e := engine(t, "testdata/simple.yaml")
	q := Query{AsOf: t0, Conversion: "meeting_booked", Window: 7 * day, Bands: 10}
	cases := []struct {
		name   string
		events []string
		want   map[string]got
		pop    Population
	}{
		{"population: an event at T0 counts, a first event after T0 does not",
			[]string{ev("1", "a", "email_opened", 0), ev("2", "b", "email_opened", time.Second)},
			map[string]got{"a": {1, false}}, Population{Contacts: 1, Later: 1}},
		{"population: a conversion at or before T0 leaves the contact out",
			[]string{ev("1", "c", "email_opened", -day), ev("2", "c", "meeting_booked", 0),
				ev("3", "d", "meeting_booked", -3*day), ev("4", "d", "meeting_booked", 2*day),
				ev("5", "e", "email_opened", -day)},
			map[string]got{"e": {1, false}}, Population{Contacts: 1, Already: 2}},
		{"label: a conversion at T0 + window counts, a nanosecond later does not",
			[]string{ev("1", "f", "email_opened", -day), ev("2", "f", "meeting_booked", 7*day),
				ev("3", "g", "email_opened", -day), ev("4", "g", "meeting_booked", 7*day+1)},
			map[string]got{"f": {1, true}, "g": {1, false}}, Population{Contacts: 2, Converted: 1}},
		{"label: only the conversion type counts, and the first event of an id wins",
			[]string{ev("1", "h", "email_opened", -day), ev("1", "h", "meeting_booked", day),
				ev("2", "i", "email_opened", -day), ev("3", "i", "form_submitted", day)},
			map[string]got{"h": {1, false}, "i": {1, false}}, Population{Contacts: 2}},
		{"score: at T0, as backtest --as-of: later events and expired windows do not count",
			[]string{ev("1", "j", "form_submitted", -8*day), ev("2", "j", "email_opened", -day), ev("3", "j", "email_opened", day),
				ev("4", "k", "form_submitted", -6*day), ev("5", "k", "meeting_booked", 3*day)},
			map[string]got{"j": {1, false}, "k": {10, true}}, Population{Contacts: 2, Converted: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, pop := scanText(t, e, q, c.events...)
			if !reflect.DeepEqual(out, c.want) || pop != c.pop {
				t.Errorf("got %v %+v, want %v %+v", out, pop, c.want, c.pop)
			}
		})
	}
}

func TestSummaryClauses(t *testing.T) {
	pts := func(p float64) rules.Points { return rules.Points(p * rules.Scale) }
	ths := []rules.Threshold{{Name: "hot", At: pts(10)}}
	t.Run("AUC: ties count one half", func(t *testing.T) {
		m := Summarize("m", []Bucket{{pts(3), 2, 1}}, nil, 1)
		if m.AUC == nil || *m.AUC != 0.5 {
			t.Errorf("auc %v, want 0.5", m.AUC)
		}
		// 2 converted at 5 and 3; non-converted at 5 and 1: pairs (5,5)=½ (5,1)=1 (3,5)=0 (3,1)=1.
		m = Summarize("m", []Bucket{{pts(5), 2, 1}, {pts(3), 1, 1}, {pts(1), 1, 0}}, nil, 1)
		if *m.AUC != 2.5/4 {
			t.Errorf("auc %v, want %v", *m.AUC, 2.5/4)
		}
	})
	t.Run("AUC: undefined without both classes", func(t *testing.T) {
		if m := Summarize("m", []Bucket{{pts(3), 2, 0}}, nil, 1); m.AUC != nil {
			t.Errorf("auc %v, want none", *m.AUC)
		}
	})
	t.Run("bands: equal size, ties in the band of their first member", func(t *testing.T) {
		m := Summarize("m", []Bucket{{pts(9), 1, 1}, {pts(5), 2, 1}, {pts(1), 1, 0}}, nil, 2)
		want := []Band{{Min: 5, Max: 9, Contacts: 3, Converted: 2, Rate: 2. / 3, Lift: (2. / 3) / 0.5}, {Min: 1, Max: 1, Contacts: 1}}
		if !reflect.DeepEqual(m.Bands, want) {
			t.Errorf("bands %+v, want %+v", m.Bands, want)
		}
		m = Summarize("m", []Bucket{{pts(4), 4, 2}, {pts(2), 4, 0}}, nil, 4)
		if len(m.Bands) != 2 || m.Bands[0].Contacts != 4 || m.Bands[1].Contacts != 4 || m.Bands[0].Lift != 2 {
			t.Errorf("bands %+v: want two bands of four (empty ones left out)", m.Bands)
		}
	})
	t.Run("thresholds: at or above, precision and recall", func(t *testing.T) {
		m := Summarize("m", []Bucket{{pts(12), 1, 1}, {pts(10), 3, 1}, {pts(9.999999), 2, 2}}, ths, 1)
		want := []ThresholdRow{{Name: "hot", Score: 10, Contacts: 4, Converted: 2, Rate: 0.5, Recall: 0.5}}
		if !reflect.DeepEqual(m.Thresholds, want) {
			t.Errorf("thresholds %+v, want %+v", m.Thresholds, want)
		}
	})
}

// A generated history: the file's report is the summary of the contacts
// Scan returns, which themselves are the backtest's at T0.
func TestFromHistoryAgreesWithScan(t *testing.T) {
	e := engine(t, "../testdata/rules")
	path := "../testdata/events/sample.jsonl"
	open := func() (io.ReadCloser, error) { return os.Open(path) }
	q := Query{AsOf: time.Date(2026, 10, 10, 0, 0, 0, 0, time.UTC), Conversion: "meeting_booked", Window: 14 * day, Bands: 7}
	in, _ := open()
	defer in.Close()
	rep, _, pop, err := FromHistory(e, in, open, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	per := map[string][]refContact{}
	in2, _ := open()
	defer in2.Close()
	_, _, err = Scan(e, in2, open, q, nil, func(l *backtest.Line, conv bool) error {
		per[l.Model] = append(per[l.Model], refContact{rules.Points(math.Round(l.Score * rules.Scale)), conv})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if pop.Contacts == 0 || pop.Converted == 0 {
		t.Fatalf("population %+v: the sample should have both classes", pop)
	}
	for i, m := range e.Rules.Models {
		want := reference(m.Name, per[m.Name], m.Thresholds, q.Bands)
		if !reflect.DeepEqual(rep.Models[i], want) {
			t.Errorf("model %s:\ngot  %+v\nwant %+v", m.Name, rep.Models[i], want)
		}
	}
}

// FromSourceEach scores the history once and gives the report of
// FromSource and, to each, the lines and labels ScanSource gives.
func TestFromSourceEachScoresOnce(t *testing.T) {
	e := engine(t, "../testdata/rules")
	open := func() (io.ReadCloser, error) { return os.Open("../testdata/events/sample.jsonl") }
	runs := 0
	counted := func(e *scoring.Engine, opts backtest.Options, emit func(backtest.Line) error) (backtest.Summary, error) {
		runs++
		return File(open)(e, opts, emit)
	}
	q := Query{AsOf: time.Date(2026, 10, 10, 0, 0, 0, 0, time.UTC), Conversion: "meeting_booked", Window: 14 * day, Bands: 7}
	type labelled struct {
		line backtest.Line
		conv bool
	}
	var each []labelled
	rep, sum, pop, err := FromSourceEach(e, counted, q, nil, func(l *backtest.Line, conv bool) error {
		each = append(each, labelled{*l, conv})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if runs != 1 {
		t.Errorf("the history was scored %d times, want once", runs)
	}
	wantRep, wantSum, wantPop, err := FromSource(e, File(open), q, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rep, wantRep) || !reflect.DeepEqual(sum, wantSum) || pop != wantPop {
		t.Errorf("FromSourceEach differs from FromSource:\ngot  %+v %+v %+v\nwant %+v %+v %+v", rep, sum, pop, wantRep, wantSum, wantPop)
	}
	var scanned []labelled
	if _, _, err := ScanSource(e, File(open), q, nil, func(l *backtest.Line, conv bool) error {
		scanned = append(scanned, labelled{*l, conv})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(scanned) == 0 || !reflect.DeepEqual(each, scanned) {
		t.Errorf("each got %d lines, ScanSource gives %d (or they differ)", len(each), len(scanned))
	}
	stop := errors.New("stop")
	if _, _, _, err := FromSourceEach(e, File(open), q, nil, func(*backtest.Line, bool) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("each's error: got %v, want it returned", err)
	}
}
