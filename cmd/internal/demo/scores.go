package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"
)

// LiveScores asks the scorer at base for every contact's scores, 16 at a
// time: model -> scores.
func LiveScores(ctx context.Context, base string, ids []string) (map[string][]float64, error) {
	type line struct {
		Model string  `json:"model"`
		Score float64 `json:"score"`
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	results := make([][]line, len(ids))
	errs := make([]error, len(ids))
	next := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range next {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/contacts/"+ids[i]+"/score", nil)
				if err != nil {
					errs[i] = err
					continue
				}
				resp, err := client.Do(req)
				if err != nil {
					errs[i] = err
					continue
				}
				err = json.NewDecoder(resp.Body).Decode(&results[i])
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || err != nil {
					errs[i] = fmt.Errorf("score of %s: %s %v", ids[i], resp.Status, err)
				}
			}
		})
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := map[string][]float64{}
	for _, ls := range results {
		for _, l := range ls {
			out[l.Model] = append(out[l.Model], l.Score)
		}
	}
	return out, nil
}

var scoreBuckets = []float64{0, 10, 20, 30, 40, 60, 80}

// WriteDistribution prints how many contacts of each model fall in each
// score bucket.
func WriteDistribution(w io.Writer, scores map[string][]float64) {
	models := make([]string, 0, len(scores))
	for m := range scores {
		models = append(models, m)
	}
	sort.Strings(models)
	fmt.Fprintln(w, "Score distribution (contacts per bucket):")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	head := "  score\t"
	for _, m := range models {
		head += m + "\t"
	}
	fmt.Fprintln(tw, head)
	for i, lo := range scoreBuckets {
		name := fmt.Sprintf("%g+", lo)
		hi := math.Inf(1)
		if i+1 < len(scoreBuckets) {
			hi = scoreBuckets[i+1]
			name = fmt.Sprintf("%g-%g", lo, hi)
		}
		if lo == 0 {
			name = "<10"
			lo = math.Inf(-1)
		}
		row := "  " + name + "\t"
		for _, m := range models {
			n := 0
			for _, s := range scores[m] {
				if s >= lo && s < hi {
					n++
				}
			}
			row += strconv.Itoa(n) + "\t"
		}
		fmt.Fprintln(tw, row)
	}
	tw.Flush()
}
