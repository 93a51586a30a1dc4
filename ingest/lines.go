package ingest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/time/rate"

	"github.com/scorebridge/scorebridge/stream"
)

// LinesSummary is what Lines sent.
type LinesSummary struct {
	Sent    int // messages written
	Unkeyed int // lines without a contact_id: sent with an empty key
}

// linesBatch is how many lines Lines writes at once without a rate.
const linesBatch = 1000

// Lines sends a JSONL event history to the events topic through p, a
// message per non-empty line keyed by its contact_id, at perSec lines a
// second (0: as fast as the broker takes them). Lines pass through as
// they are: a malformed one, or one without a contact_id (counted as
// Unkeyed), reaches the scorer's dead-letter topic with its reason. It
// returns once Kafka acknowledged every message; an error names the line
// whose write failed.
func Lines(ctx context.Context, r io.Reader, p Producer, perSec float64) (LinesSummary, error) {
	var sum LinesSummary
	var limit *rate.Limiter
	if perSec > 0 {
		limit = rate.NewLimiter(rate.Limit(perSec), max(1, int(perSec/100)))
	}
	br := bufio.NewReaderSize(r, 1<<20)
	var batch []stream.Record
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := p.Write(ctx, batch...)
		sum.Sent += len(batch)
		batch = batch[:0]
		return err
	}
	line := 0
	for {
		raw, err := br.ReadBytes('\n')
		if len(raw) > 0 {
			line++
			raw = []byte(strings.TrimRight(string(raw), "\r\n"))
			if len(raw) == 0 {
				continue
			}
			var key struct {
				ContactID string `json:"contact_id"`
			}
			if json.Unmarshal(raw, &key) != nil || key.ContactID == "" {
				sum.Unkeyed++
			}
			batch = append(batch, stream.Message(key.ContactID, raw))
			if limit != nil {
				if err := limit.Wait(ctx); err != nil {
					return sum, err
				}
			}
			if len(batch) >= linesBatch || limit != nil && len(batch) >= limit.Burst() {
				if err := flush(); err != nil {
					return sum, fmt.Errorf("line %d: %w", line, err)
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return sum, err
		}
	}
	return sum, flush()
}
