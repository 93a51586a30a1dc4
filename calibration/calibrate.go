package calibration

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/scorebridge/scorebridge/internal/dialect"
	"github.com/scorebridge/scorebridge/rules"
)

// Query fixes what is measured: scores at AsOf against conversions
// (events of type Conversion) in (AsOf, AsOf+Window].
type Query struct {
	AsOf       time.Time
	Conversion string
	Window     time.Duration
	Bands      int
}

// DefaultWindow and DefaultBands are the flags' defaults.
const (
	DefaultWindow = 30 * 24 * time.Hour
	DefaultBands  = 10
)

// ParseQuery reads the flags `scorer calibrate`, `scorer fit` and
// `scorer report calibration` share, reporting every problem at once. T0
// is RFC 3339 or a date (midnight UTC); the window is a rule-file
// duration (30d, 12h, 2w).
func ParseQuery(asOf, conversion, window string, bands int) (Query, error) {
	q := Query{Conversion: conversion, Bands: bands}
	var errs []error
	if asOf != "" {
		t, err := dialect.ParseTime(asOf)
		if err != nil {
			errs = append(errs, fmt.Errorf("--as-of %w", err))
		}
		q.AsOf = t
	}
	w, err := rules.ParseDuration(window)
	if err != nil {
		errs = append(errs, fmt.Errorf("--window: %w", err))
	}
	q.Window = w
	if err := q.Validate(); err != nil && len(errs) == 0 {
		return q, err
	}
	return q, errors.Join(errs...)
}

// Validate reports every problem of q at once.
func (q Query) Validate() error {
	var errs []error
	if q.AsOf.IsZero() {
		errs = append(errs, errors.New("--as-of is required (RFC 3339, e.g. 2026-10-15T00:00:00Z)"))
	}
	if q.Conversion == "" {
		errs = append(errs, errors.New("--conversion is required (the event type of a conversion, e.g. meeting_booked)"))
	}
	if q.Window <= 0 {
		errs = append(errs, fmt.Errorf("--window %v: want a positive duration such as 30d", q.Window))
	}
	if q.Bands < 1 {
		errs = append(errs, fmt.Errorf("--bands %d: want at least 1", q.Bands))
	}
	return errors.Join(errs...)
}

// Bucket counts the contacts of the population that share one score.
type Bucket struct {
	Score     rules.Points
	Contacts  int64
	Converted int64
}

// Report is the calibration of every model, in the JSON shape analysts
// consume.
type Report struct {
	AsOf       time.Time `json:"as_of"`
	Conversion string    `json:"conversion"`
	Window     string    `json:"window"`
	Models     []Model   `json:"models"`
	SQL        []string  `json:"-"`
}

// Model is one model's calibration.
type Model struct {
	Model     string `json:"model"`
	Contacts  int64  `json:"contacts"`
	Converted int64  `json:"converted"`
	// AUC is nil when the population has no converted or no
	// non-converted contact: there is no pair to compare.
	AUC        *float64       `json:"auc"`
	Bands      []Band         `json:"bands"`
	Thresholds []ThresholdRow `json:"thresholds"`
}

// Band is a group of contacts of neighbouring scores.
type Band struct {
	Min       float64 `json:"min"`
	Max       float64 `json:"max"`
	Contacts  int64   `json:"contacts"`
	Converted int64   `json:"converted"`
	Rate      float64 `json:"rate"`
	Lift      float64 `json:"lift"` // Rate / the population's rate; 0 when nobody converted
}

// ThresholdRow is a threshold seen as a qualifier: precision (Rate) and
// recall of "score >= Score".
type ThresholdRow struct {
	Name      string  `json:"name"`
	Score     float64 `json:"score"`
	Contacts  int64   `json:"contacts"`
	Converted int64   `json:"converted"`
	Rate      float64 `json:"rate"`
	Recall    float64 `json:"recall"`
}

// Merge sorts buckets by descending score and adds up buckets of equal
// score.
func Merge(bs []Bucket) []Bucket {
	out := append([]Bucket(nil), bs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	n := 0
	for _, b := range out {
		if n > 0 && out[n-1].Score == b.Score {
			out[n-1].Contacts += b.Contacts
			out[n-1].Converted += b.Converted
			continue
		}
		out[n] = b
		n++
	}
	return out[:n]
}

// Summarize computes a model's calibration from its buckets (any order)
// and its thresholds, in O(distinct scores).
//
// Bands: contacts in descending score order are cut into `bands` runs of
// equal size, except that contacts of equal score always share a band: a
// run of equal scores goes whole into the band where its first (highest
// ranked) contact falls, i.e. band floor(r*bands/n) where r is the number
// of contacts scoring strictly higher. Bands a run would have spilled into
// come out smaller or empty; empty bands are left out, so heavy ties give
// fewer bands than asked for.
func Summarize(model string, buckets []Bucket, thresholds []rules.Threshold, bands int) Model {
	bs := Merge(buckets)
	m := Model{Model: model, Bands: []Band{}, Thresholds: []ThresholdRow{}}
	for _, b := range bs {
		m.Contacts += b.Contacts
		m.Converted += b.Converted
	}
	m.AUC = auc(bs, m.Converted, m.Contacts-m.Converted)
	overall := rate(m.Converted, m.Contacts)
	if bands < 1 {
		bands = 1
	}
	var above int64 // contacts scoring strictly higher than the bucket
	cur := -1
	for _, b := range bs {
		band := int(above * int64(bands) / m.Contacts)
		if band != cur {
			m.Bands = append(m.Bands, Band{Max: rules.Float(b.Score)})
			cur = band
		}
		x := &m.Bands[len(m.Bands)-1]
		x.Min = rules.Float(b.Score)
		x.Contacts += b.Contacts
		x.Converted += b.Converted
		above += b.Contacts
	}
	for i := range m.Bands {
		x := &m.Bands[i]
		x.Rate = rate(x.Converted, x.Contacts)
		if overall > 0 {
			x.Lift = x.Rate / overall
		}
	}
	for _, th := range thresholds {
		row := ThresholdRow{Name: th.Name, Score: rules.Float(th.At)}
		for _, b := range bs {
			if b.Score < th.At {
				break
			}
			row.Contacts += b.Contacts
			row.Converted += b.Converted
		}
		row.Rate = rate(row.Converted, row.Contacts)
		row.Recall = rate(row.Converted, m.Converted)
		m.Thresholds = append(m.Thresholds, row)
	}
	return m
}

// auc is the Mann-Whitney statistic over buckets in descending score
// order: the share of (converted, non-converted) pairs where the converted
// contact scores higher, ties counting one half. Twice the numerator is
// kept as an integer, so the result is exact up to the final division.
func auc(bs []Bucket, pos, neg int64) *float64 {
	if pos == 0 || neg == 0 {
		return nil
	}
	var twice, negBelow int64
	for i := len(bs) - 1; i >= 0; i-- { // ascending score
		b := bs[i]
		n := b.Contacts - b.Converted
		twice += b.Converted * (2*negBelow + n)
		negBelow += n
	}
	v := float64(twice) / (2 * float64(pos) * float64(neg))
	return &v
}

func rate(k, n int64) float64 {
	if n == 0 {
		return 0
	}
	return float64(k) / float64(n)
}
