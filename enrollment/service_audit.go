package enrollment

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/hubspot"
	bolt "go.etcd.io/bbolt"
)

// RowWriter is the part of analytics.Writer the audit needs.
type RowWriter interface {
	AddDecisions(rows ...analytics.Decision) error
	AddEnrollmentEvents(rows ...analytics.EnrollmentEvent) error
	AddAPICalls(rows ...analytics.APICall) error
	Flush(ctx context.Context) error
}

// CallRecorder receives the api_calls audit rows, from the store's calls
// outbox (at least once; a row keeps its call id, on which ClickHouse's
// replacing merge de-duplicates). A Recorder without it drops them.
type CallRecorder interface {
	RecordAPICalls(ctx context.Context, rows []analytics.APICall) error
}

// RecordAPICalls implements CallRecorder; it returns once ClickHouse has
// the rows.
func (r AnalyticsRecorder) RecordAPICalls(ctx context.Context, rows []analytics.APICall) error {
	if err := r.W.AddAPICalls(rows...); err != nil {
		return err
	}
	return r.W.Flush(ctx)
}

// InterruptedCall is the `error` of an api_calls row whose call was
// started and never completed: the process stopped (kill -9, crash, power)
// between sending the request and recording the answer. Its status is 0.
// The request may have reached HubSpot and taken effect: an enrollment it
// made is "enrolled by us, answer lost", settled later by a status check
// (the decision's confirmed_by: status).
const InterruptedCall = "interrupted: the bridge stopped before the answer (the request may have reached HubSpot)"

// StartAPICall makes a call durable before it is sent: its row, without
// an answer, in the store's started calls. The client's start hook calls
// it on the caller's goroutine just before the request leaves, so even a
// kill -9 before the answer leaves a trace; AppendAPICall replaces it
// with the completed row, and InterruptAPICalls turns those left by a
// dead process into rows marked InterruptedCall. Concurrent calls share
// an fsync (groupCommit). An enrollment's first call does not come here:
// PutIntentCall stores its start with the intent.
func (s *Store) StartAPICall(row analytics.APICall) error {
	raw, err := json.Marshal(row)
	if err != nil {
		return err
	}
	return s.gc.write(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStarted).Put([]byte(row.CallID), raw)
	})
}

// AppendAPICall makes one api_calls row durable in the store's calls
// outbox, removing its started entry in the same transaction. The audit
// hook calls it on the caller's goroutine, before the call returns, so a
// row exists for every call whose effect the bridge acts on, whatever
// kill -9 follows. Concurrent calls share an fsync (groupCommit).
func (s *Store) AppendAPICall(row analytics.APICall) error {
	raw, err := json.Marshal(row)
	if err != nil {
		return err
	}
	err = s.gc.write(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketStarted).Delete([]byte(row.CallID)); err != nil {
			return err
		}
		return appendCall(tx, raw)
	})
	if err == nil {
		s.calls.Add(1)
	}
	return err
}

func appendCall(tx *bolt.Tx, raw []byte) error {
	b := tx.Bucket(bucketCalls)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	return b.Put(binary.BigEndian.AppendUint64(nil, seq), raw)
}

// InterruptAPICalls moves every started call without a completion into
// the calls outbox as a row with status 0 and the error InterruptedCall,
// returning how many. Only a process that owns the store and has no call
// in flight may run it: the bridge does at start, before any call (a
// second process cannot open the store).
func (s *Store) InterruptAPICalls() (int, error) {
	moved := 0
	err := s.update(func(tx *bolt.Tx, n *sizeDelta) error {
		moved = 0
		started := tx.Bucket(bucketStarted)
		var keys [][]byte
		err := started.ForEach(func(k, v []byte) error {
			var r analytics.APICall
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("state %s/%s: %w", bucketStarted, k, err)
			}
			r.Status, r.Error = 0, InterruptedCall
			raw, err := json.Marshal(r)
			if err != nil {
				return err
			}
			keys = append(keys, slices.Clone(k))
			return appendCall(tx, raw)
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := started.Delete(k); err != nil {
				return err
			}
		}
		moved = len(keys)
		n.calls += int64(moved)
		return nil
	})
	return moved, err
}

// CallEntry is an api_calls row waiting to be recorded.
type CallEntry struct {
	Key uint64
	Row analytics.APICall
}

// CallOutbox returns up to limit api_calls rows not yet recorded.
func (s *Store) CallOutbox(limit int) ([]CallEntry, error) {
	return readOutbox(s, bucketCalls, "calls", limit, func(key uint64, r analytics.APICall) CallEntry {
		return CallEntry{Key: key, Row: r}
	})
}

// AckCalls removes recorded api_calls rows from the outbox.
func (s *Store) AckCalls(entries []CallEntry) error {
	return s.ack(bucketCalls, entryKeys(entries, func(e CallEntry) uint64 { return e.Key }))
}

// AnalyticsRecorder writes decisions to ClickHouse (`decisions`, and
// `enrollment_events` for sequence enrollments). RecordDecisions returns
// only once the rows are stored, so the outbox is acknowledged only after
// ClickHouse has them.
type AnalyticsRecorder struct{ W RowWriter }

// RecordDecisions implements Recorder.
func (r AnalyticsRecorder) RecordDecisions(ctx context.Context, ds []Decision) error {
	rows, evs := DecisionRows(ds)
	if err := r.W.AddDecisions(rows...); err != nil {
		return err
	}
	if err := r.W.AddEnrollmentEvents(evs...); err != nil {
		return err
	}
	return r.W.Flush(ctx)
}

// DecisionRows maps decisions to audit rows. The decision id is derived
// from the decision itself, so a decision recorded twice (the outbox is
// at-least-once) is one row after ClickHouse's replacing merge.
func DecisionRows(ds []Decision) ([]analytics.Decision, []analytics.EnrollmentEvent) {
	rows := make([]analytics.Decision, 0, len(ds))
	var evs []analytics.EnrollmentEvent
	for _, d := range ds {
		r := analytics.Decision{
			DecisionID: DecisionID(d), CrossingID: d.CrossingID, ContactID: d.ContactID, CompanyID: d.CompanyID,
			Model: d.Model, Sender: d.SenderEmail, Outcome: string(d.Kind), Reason: d.Reason,
			Detail: decisionDetail(d), DecidedAt: d.DecidedAt,
		}
		if d.Target != nil {
			r.TargetKind, r.TargetID = string(d.Target.Kind), d.Target.ID
		}
		rows = append(rows, r)
		if d.Kind == KindEnrolled && d.Target != nil && d.Target.Kind == TargetSequence {
			evs = append(evs, analytics.EnrollmentEvent{
				EventID: "enrolled:" + d.CrossingID, ContactID: d.ContactID, SequenceID: d.Target.ID,
				OwnerID: d.OwnerID, CrossingID: d.CrossingID, Kind: analytics.KindEnrolled, At: d.DecidedAt,
			})
		}
	}
	return rows, evs
}

// decisionDetail keeps what the audit table has no column for.
func decisionDetail(d Decision) string {
	extra := map[string]any{}
	if d.InSequence != "" {
		extra["in_sequence"] = d.InSequence
	}
	if len(d.Unenrolled) > 0 {
		extra["unenrolled_workflows"] = d.Unenrolled
	}
	if len(d.UnenrollFailed) > 0 {
		extra["unenroll_failed"] = d.UnenrollFailed
	}
	if len(d.UnenrollPending) > 0 {
		extra["unenroll_pending"] = d.UnenrollPending
	}
	if !d.NotBefore.IsZero() {
		extra["not_before"] = d.NotBefore
	}
	if d.EnrollmentID != "" {
		extra["enrollment_id"] = d.EnrollmentID
	}
	if d.ConfirmedBy != "" {
		extra["confirmed_by"] = d.ConfirmedBy
	}
	if d.MayHaveEnrolled {
		extra["may_have_enrolled"] = true
	}
	if len(extra) == 0 {
		return d.Detail
	}
	extra["detail"] = d.Detail
	b, _ := json.Marshal(extra) // plain values: cannot fail
	return string(b)
}

// DecisionID identifies one decision: its crossing, outcome, target and
// time.
func DecisionID(d Decision) string {
	h := sha256.New()
	target := ""
	if d.Target != nil {
		target = string(d.Target.Kind) + ":" + d.Target.ID
	}
	for _, s := range []string{d.CrossingID, d.Outcome, target, d.DecidedAt.UTC().Format(time.RFC3339Nano)} {
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// APICallRow maps one audited HTTP exchange to its `api_calls` row. The
// client has already removed the token from bodies and errors.
func APICallRow(c hubspot.Call, crossingID string) analytics.APICall {
	callID := c.ID
	if callID == "" {
		var id [16]byte
		_, _ = rand.Read(id[:]) // never fails (crypto/rand)
		callID = hex.EncodeToString(id[:])
	}
	return analytics.APICall{
		CallID: callID, ContactID: c.ContactID, CrossingID: crossingID,
		Method: c.Method, Path: c.Path, Status: int64(c.Status), LatencyMS: c.Latency.Milliseconds(),
		CorrelationID: c.CorrelationID, RequestBody: c.RequestBody, ResponseBody: c.ResponseBody,
		Error: c.Err, At: c.Start.UTC(),
	}
}

var bucketAudit = []byte("audit")

// LocalAudit is the Recorder used without ClickHouse: decisions are kept
// in the bridge's own store, by contact, so `GET /decisions` still answers
// and the outbox is acknowledged only once they are durably written
// there. Prune bounds it with the same retention as processed crossings.
type LocalAudit struct{ s *Store }

// NewLocalAudit prepares the audit bucket in the store.
func NewLocalAudit(s *Store) (*LocalAudit, error) {
	err := s.db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketAudit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("state: audit bucket: %w", err)
	}
	return &LocalAudit{s: s}, nil
}

// auditKey sorts a contact's decisions by time: contact id, NUL, the
// decision time in nanoseconds (big endian), the decision id.
func auditKey(d Decision) []byte {
	k := make([]byte, 0, len(d.ContactID)+1+8+32)
	k = append(k, d.ContactID...)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint64(k, uint64(d.DecidedAt.UnixNano()))
	return append(k, DecisionID(d)...)
}

// RecordDecisions implements Recorder.
func (a *LocalAudit) RecordDecisions(_ context.Context, ds []Decision) error {
	return a.s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		for _, d := range ds {
			v, err := json.Marshal(d)
			if err != nil {
				return err
			}
			if err := b.Put(auditKey(d), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// Decisions lists a contact's recorded decisions, oldest first.
func (a *LocalAudit) Decisions(contactID string) ([]Decision, error) {
	prefix := append([]byte(contactID), 0)
	out := []Decision{}
	err := a.s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var d Decision
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("state audit/%q: %w", k, err)
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// Prune forgets decisions made before cutoff.
func (a *LocalAudit) Prune(cutoff time.Time) (int, error) {
	return a.s.prune(bucketAudit, func(k, _ []byte) (bool, error) {
		i := bytes.IndexByte(k, 0)
		return i >= 0 && len(k) >= i+9 && int64(binary.BigEndian.Uint64(k[i+1:i+9])) < cutoff.UnixNano(), nil
	})
}
