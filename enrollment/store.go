package enrollment

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/events"
	bolt "go.etcd.io/bbolt"
)

// Ledger is the bridge's own memory of what it enrolled, read by the
// Exclusive, Quota and Send stages. *Store implements it.
type Ledger interface {
	Contact(contactID string) (ContactState, error)
	Company(companyID string) (CompanyState, bool, error)
	SenderUsage(ownerID string) (SenderUsage, error)
	// ForgetSequence clears a contact's active sequence (and its company's
	// claim) once the sink confirmed it has ended.
	ForgetSequence(contactID string) error
	ForgetCompany(companyID string) error
	// Intent and PutIntent are the write-ahead log of sink calls.
	Intent(crossingID string) (Intent, bool, error)
	PutIntent(Intent) error
	// PutIntentCall is PutIntent with the api_calls row of the call about
	// to be sent (start, when not nil) stored in the same transaction, as
	// StartAPICall would store it: one fsync before the request leaves.
	PutIntentCall(in Intent, start *analytics.APICall) error
}

// ContactState is what the bridge knows of a contact's enrollments.
type ContactState struct {
	Sequence  *ActiveSequence `json:"sequence,omitempty"`
	Workflows []string        `json:"workflows,omitempty"`
}

// ActiveSequence is a sequence enrollment the bridge made or confirmed.
// EndsAt is when its last step is due (plus a day): after it the ledger
// is no longer trusted and the sink's status is asked.
type ActiveSequence struct {
	SequenceID   string    `json:"sequence_id"`
	EnrollmentID string    `json:"enrollment_id,omitempty"`
	OwnerID      string    `json:"owner_id,omitempty"`
	CrossingID   string    `json:"crossing_id,omitempty"`
	EnrolledAt   time.Time `json:"enrolled_at"`
	EndsAt       time.Time `json:"ends_at"`
}

// CompanyState is the company's active enrollment, for company_exclusive.
type CompanyState struct {
	ContactID  string    `json:"contact_id"`
	SequenceID string    `json:"sequence_id"`
	EndsAt     time.Time `json:"ends_at"`
}

// SenderUsage is a sender's recent enrollments and scheduled sends, for
// the rolling 24 h quotas. Entries older than 24 h are pruned on write.
type SenderUsage struct {
	Enrollments []time.Time `json:"enrollments,omitempty"`
	Sends       []time.Time `json:"sends,omitempty"`
	// Pending are the sender's sequence calls that may have enrolled and
	// that no status check has settled yet (not stored with the usage:
	// read from the intents). They count until the bridge knows.
	Pending []PendingCall `json:"-"`
}

// PendingCall is a sequence call of a sender that may have enrolled.
type PendingCall struct {
	CrossingID string      `json:"crossing_id"`
	At         time.Time   `json:"at"`
	Sends      []time.Time `json:"sends,omitempty"`
}

// Intent is written before a sink call; if it is still there when the
// crossing comes back, the call may have happened and the status is
// checked before calling again.
type Intent struct {
	Crossing events.Crossing `json:"crossing"`
	Target   Target          `json:"target"`
	OwnerID  string          `json:"owner_id,omitempty"`
	// UserID is the HubSpot user the call enrolls as: what the status
	// check compares the enrolling user with.
	UserID string `json:"user_id,omitempty"`
	// At is when the latest call was made (or about to be).
	At time.Time `json:"at"`
	// NotEnrolled: the answers since the call prove it enrolled nobody
	// (set when the crossing is held after them). Otherwise the call may
	// have enrolled (an intent is written before every call, since a
	// crash can follow it) and the intent counts against its sender's
	// daily cap, with Sends, the projected emails, until a status check
	// settles it.
	NotEnrolled bool        `json:"not_enrolled,omitempty"`
	Sends       []time.Time `json:"sends,omitempty"`
}

func (in Intent) pendingKey() []byte {
	return []byte(in.OwnerID + "\x00" + in.Crossing.CrossingID)
}

// MayHaveEnrolled reports whether the call may have enrolled the contact:
// true until a status check says it did not.
func (in Intent) MayHaveEnrolled() bool { return !in.NotEnrolled }

// counts toward its sender's cap while it may have enrolled.
func (in Intent) counts() bool {
	return in.MayHaveEnrolled() && in.OwnerID != "" && in.Target.Kind == TargetSequence
}

// HeldItem is a crossing waiting in the held queue.
type HeldItem struct {
	Crossing  events.Crossing `json:"crossing"`
	Decision  Decision        `json:"decision"` // the latest held decision
	HeldSince time.Time       `json:"held_since"`
}

var (
	bucketProcessed = []byte("processed")
	bucketContacts  = []byte("contacts")
	bucketCompanies = []byte("companies")
	bucketSenders   = []byte("senders")
	bucketIntents   = []byte("intents")
	bucketHeld      = []byte("held")
	bucketOutbox    = []byte("outbox")
	bucketUnenrolls = []byte("unenrolls")
	// bucketPending indexes the intents that count against a sender's
	// cap: owner id, NUL, crossing id -> PendingCall.
	bucketPending = []byte("pending")
	// bucketCalls is the outbox of api_calls audit rows.
	bucketCalls = []byte("calls")
	// bucketStarted holds the calls sent and not yet answered: call id ->
	// its api_calls row without an answer.
	bucketStarted = []byte("calls_started")
	allBuckets    = [][]byte{bucketProcessed, bucketContacts, bucketCompanies, bucketSenders, bucketIntents, bucketHeld,
		bucketOutbox, bucketUnenrolls, bucketPending, bucketCalls, bucketStarted}
)

// Store is the bridge's durable state in a bbolt file in the state
// directory: ledger, processed crossings, intents, held queue and the
// outbox of decisions not yet handed to the Recorder. Every write is one
// fsynced transaction.
type Store struct {
	db *bolt.DB
	// Sizes of the held queue and the two outboxes, for the gauges:
	// counted once at open from bbolt's statistics, then kept by the
	// transactions that change them.
	held, outbox, calls atomic.Int64
	// gc commits the writes of the enrollment path (intents, decisions,
	// api_calls rows, outbox acknowledgements), concurrent ones together.
	gc *groupCommit
}

// StoreFile is the name of the database inside the state directory.
const StoreFile = "bridge.db"

// OpenStore opens (or creates) the store in dir. A second process on the
// same directory fails after a second instead of waiting forever.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	path := filepath.Join(dir, StoreFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init state %s: %w", path, err)
	}
	s := &Store{db: db}
	err = db.View(func(tx *bolt.Tx) error {
		s.held.Store(int64(tx.Bucket(bucketHeld).Stats().KeyN))
		s.outbox.Store(int64(tx.Bucket(bucketOutbox).Stats().KeyN))
		s.calls.Store(int64(tx.Bucket(bucketCalls).Stats().KeyN))
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("count state %s: %w", path, err)
	}
	s.gc = newGroupCommit(db)
	return s, nil
}

// Sizes are the entries in the held queue, the decision outbox and the
// api_calls outbox, without reading them.
func (s *Store) Sizes() (held, outbox, calls int) {
	return int(s.held.Load()), int(s.outbox.Load()), int(s.calls.Load())
}

// update runs fn in an fsynced transaction, shared with concurrent
// writes (groupCommit: fn may run more than once); the size changes fn
// reports in d are applied once it committed.
func (s *Store) update(fn func(tx *bolt.Tx, d *sizeDelta) error) error {
	var d sizeDelta
	if err := s.gc.write(func(tx *bolt.Tx) error { d = sizeDelta{}; return fn(tx, &d) }); err != nil {
		return err
	}
	s.held.Add(d.held)
	s.outbox.Add(d.outbox)
	s.calls.Add(d.calls)
	return nil
}

type sizeDelta struct{ held, outbox, calls int64 }

// Close closes the database.
func (s *Store) Close() error {
	s.gc.close()
	return s.db.Close()
}

func get[T any](tx *bolt.Tx, bucket []byte, key string) (T, bool, error) {
	var v T
	raw := tx.Bucket(bucket).Get([]byte(key))
	if raw == nil {
		return v, false, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, false, fmt.Errorf("state %s/%s: %w", bucket, key, err)
	}
	return v, true, nil
}

func put(tx *bolt.Tx, bucket []byte, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put([]byte(key), raw)
}

func view[T any](s *Store, bucket []byte, key string) (T, bool, error) {
	var (
		v  T
		ok bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		v, ok, err = get[T](tx, bucket, key)
		return err
	})
	return v, ok, err
}

// Processed is the final decision already made for a crossing, if any.
func (s *Store) Processed(crossingID string) (Decision, bool, error) {
	return view[Decision](s, bucketProcessed, crossingID)
}

// HeldCrossing returns the crossing's entry in the held queue, if any.
func (s *Store) HeldCrossing(crossingID string) (HeldItem, bool, error) {
	return view[HeldItem](s, bucketHeld, crossingID)
}

// Contact implements Ledger.
func (s *Store) Contact(contactID string) (ContactState, error) {
	st, _, err := view[ContactState](s, bucketContacts, contactID)
	return st, err
}

// Company implements Ledger.
func (s *Store) Company(companyID string) (CompanyState, bool, error) {
	return view[CompanyState](s, bucketCompanies, companyID)
}

// SenderUsage implements Ledger: the usage, and the sender's calls that
// may have enrolled.
func (s *Store) SenderUsage(ownerID string) (SenderUsage, error) {
	var u SenderUsage
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		if u, _, err = get[SenderUsage](tx, bucketSenders, ownerID); err != nil {
			return err
		}
		prefix := []byte(ownerID + "\x00")
		c := tx.Bucket(bucketPending).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var p PendingCall
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("state pending/%q: %w", k, err)
			}
			u.Pending = append(u.Pending, p)
		}
		return nil
	})
	return u, err
}

// Intent implements Ledger.
func (s *Store) Intent(crossingID string) (Intent, bool, error) {
	return view[Intent](s, bucketIntents, crossingID)
}

// PutIntent implements Ledger.
func (s *Store) PutIntent(in Intent) error {
	return s.gc.write(func(tx *bolt.Tx) error { return putIntent(tx, in) })
}

// PutIntentCall implements Ledger.
func (s *Store) PutIntentCall(in Intent, start *analytics.APICall) error {
	var raw []byte
	if start != nil {
		var err error
		if raw, err = json.Marshal(start); err != nil {
			return err
		}
	}
	return s.gc.write(func(tx *bolt.Tx) error {
		if err := putIntent(tx, in); err != nil || raw == nil {
			return err
		}
		return tx.Bucket(bucketStarted).Put([]byte(start.CallID), raw)
	})
}

func putIntent(tx *bolt.Tx, in Intent) error {
	if err := put(tx, bucketIntents, in.Crossing.CrossingID, in); err != nil {
		return err
	}
	if !in.counts() {
		return tx.Bucket(bucketPending).Delete(in.pendingKey())
	}
	raw, err := json.Marshal(PendingCall{CrossingID: in.Crossing.CrossingID, At: in.At, Sends: in.Sends})
	if err != nil {
		return err
	}
	return tx.Bucket(bucketPending).Put(in.pendingKey(), raw)
}

func deleteIntent(tx *bolt.Tx, in Intent) error {
	if err := tx.Bucket(bucketIntents).Delete([]byte(in.Crossing.CrossingID)); err != nil {
		return err
	}
	return tx.Bucket(bucketPending).Delete(in.pendingKey())
}

// Intents lists the intents left by calls whose outcome was never applied.
func (s *Store) Intents() ([]Intent, error) {
	var out []Intent
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIntents).ForEach(func(k, v []byte) error {
			var in Intent
			if err := json.Unmarshal(v, &in); err != nil {
				return fmt.Errorf("state intents/%s: %w", k, err)
			}
			out = append(out, in)
			return nil
		})
	})
	return out, err
}

// ForgetSequence implements Ledger.
func (s *Store) ForgetSequence(contactID string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		st, ok, err := get[ContactState](tx, bucketContacts, contactID)
		if err != nil || !ok || st.Sequence == nil {
			return err
		}
		st.Sequence = nil
		return put(tx, bucketContacts, contactID, st)
	})
}

// ForgetCompany implements Ledger.
func (s *Store) ForgetCompany(companyID string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCompanies).Delete([]byte(companyID))
	})
}

// Apply makes a decision durable in one transaction: the crossing is marked
// processed (final) or queued (held), the ledger learns the enrollment, the
// intent is cleared (final) or kept saying whether a call may have
// enrolled (held), and the decision enters the outbox for the Recorder.
// A final decision other than an enrollment that leaves a call of ours
// unsettled (say, a hold that expired during a status outage) charges that
// call to the sender's cap: one the bridge cannot disprove counts.
func (s *Store) Apply(a *Attempt, d *Decision) error {
	orig := *d
	return s.update(func(tx *bolt.Tx, n *sizeDelta) error {
		*d = orig // the write may run again (groupCommit)
		id := d.CrossingID
		in, hasIntent, err := get[Intent](tx, bucketIntents, id)
		if err != nil {
			return err
		}
		maybe := a.maybeEnrolled || (hasIntent && !a.settled && in.MayHaveEnrolled())
		wasHeld := tx.Bucket(bucketHeld).Get([]byte(id)) != nil
		if d.Final() {
			if err := put(tx, bucketProcessed, id, d); err != nil {
				return err
			}
			if wasHeld {
				n.held--
				if err := tx.Bucket(bucketHeld).Delete([]byte(id)); err != nil {
					return err
				}
			}
			if hasIntent {
				if err := deleteIntent(tx, in); err != nil {
					return err
				}
			}
			if maybe && hasIntent && in.counts() && d.Kind != KindEnrolled && !(d.Kind == KindAlreadyEnrolled && d.Reason == ReasonStatus) {
				d.MayHaveEnrolled = true
				d.Detail = joinDetail(d.Detail, "counted against the sender's cap: an earlier call may have enrolled")
				if err := charge(tx, in.OwnerID, in.At, in.Sends); err != nil {
					return err
				}
			}
		} else {
			d.MayHaveEnrolled = maybe && hasIntent
			h, ok, err := get[HeldItem](tx, bucketHeld, id)
			if err != nil {
				return err
			}
			if !ok {
				h = HeldItem{Crossing: a.Crossing, HeldSince: d.DecidedAt}
				n.held++
			}
			h.Decision = *d
			if err := put(tx, bucketHeld, id, h); err != nil {
				return err
			}
			// A held decision keeps its intent, saying whether the call
			// it follows may have taken effect: then the next try checks
			// the status first, and the sender's cap counts it meanwhile.
			if hasIntent {
				in.NotEnrolled = !maybe
				if err := putIntent(tx, in); err != nil {
					return err
				}
			}
		}
		if err := applyLedger(tx, a, d); err != nil {
			return err
		}
		if err := queueUnenrolls(tx, a, d); err != nil {
			return err
		}
		n.outbox++
		return appendOutbox(tx, d)
	})
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// PendingUnenroll is a conflicting workflow the contact could not be taken
// out of when it entered a sequence; it is retried until it succeeds.
type PendingUnenroll struct {
	ContactID  string    `json:"contact_id"`
	Email      string    `json:"email"`
	WorkflowID string    `json:"workflow_id"`
	SequenceID string    `json:"sequence_id"`
	CrossingID string    `json:"crossing_id"`
	Since      time.Time `json:"since"`
	Attempts   int       `json:"attempts"`
	NotBefore  time.Time `json:"not_before"`
	// Unverified: queued with the enrollment before anyone checked that
	// the contact is in the workflow; the retry asks first.
	Unverified bool `json:"unverified,omitempty"`
}

func (p PendingUnenroll) key() string { return p.ContactID + "\x00" + p.WorkflowID }

func queueUnenrolls(tx *bolt.Tx, a *Attempt, d *Decision) error {
	email := a.Email()
	if d.Kind != KindEnrolled || email == "" {
		return nil
	}
	for _, w := range slices.Concat(d.UnenrollFailed, d.UnenrollPending) {
		p := PendingUnenroll{ContactID: d.ContactID, Email: email, WorkflowID: w, SequenceID: d.Target.ID,
			CrossingID: d.CrossingID, Since: d.DecidedAt, NotBefore: d.DecidedAt,
			Unverified: !slices.Contains(d.UnenrollFailed, w)}
		if err := put(tx, bucketUnenrolls, p.key(), p); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) pendingUnenroll(key string) (PendingUnenroll, bool, error) {
	return view[PendingUnenroll](s, bucketUnenrolls, key)
}

// PendingUnenrolls lists the queued workflow exits due at now.
func (s *Store) PendingUnenrolls(now time.Time) ([]PendingUnenroll, error) {
	var out []PendingUnenroll
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUnenrolls).ForEach(func(k, v []byte) error {
			var p PendingUnenroll
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("state unenrolls: %w", err)
			}
			if !p.NotBefore.After(now) {
				out = append(out, p)
			}
			return nil
		})
	})
	return out, err
}

// ResolveUnenroll records the outcome of a retried workflow exit: done
// removes it, updates the ledger and queues the audit decision d (if any); otherwise
// the entry is rescheduled as p says.
func (s *Store) ResolveUnenroll(p PendingUnenroll, done bool, d *Decision) error {
	return s.update(func(tx *bolt.Tx, n *sizeDelta) error {
		if !done {
			return put(tx, bucketUnenrolls, p.key(), p)
		}
		if err := tx.Bucket(bucketUnenrolls).Delete([]byte(p.key())); err != nil {
			return err
		}
		st, ok, err := get[ContactState](tx, bucketContacts, p.ContactID)
		if err != nil {
			return err
		}
		if ok {
			st.Workflows = slices.DeleteFunc(st.Workflows, func(w string) bool { return w == p.WorkflowID })
			if err := put(tx, bucketContacts, p.ContactID, st); err != nil {
				return err
			}
		}
		if d == nil {
			return nil
		}
		n.outbox++
		return appendOutbox(tx, d)
	})
}

func applyLedger(tx *bolt.Tx, a *Attempt, d *Decision) error {
	if d.Target == nil {
		return nil
	}
	switch {
	case d.Kind == KindEnrolled && d.Target.Kind == TargetWorkflow:
		st, _, err := get[ContactState](tx, bucketContacts, d.ContactID)
		if err != nil {
			return err
		}
		if !slices.Contains(st.Workflows, d.Target.ID) {
			st.Workflows = append(st.Workflows, d.Target.ID)
		}
		return put(tx, bucketContacts, d.ContactID, st)
	case d.Kind == KindEnrolled:
		return applySequence(tx, a, d)
	case d.Kind == KindAlreadyEnrolled && d.Reason == ReasonStatus:
		// Learn the enrollment HubSpot reported, trusted for a day.
		st, _, err := get[ContactState](tx, bucketContacts, d.ContactID)
		if err != nil {
			return err
		}
		st.Sequence = &ActiveSequence{SequenceID: d.InSequence, EnrolledAt: d.DecidedAt, EndsAt: d.DecidedAt.Add(24 * time.Hour)}
		return put(tx, bucketContacts, d.ContactID, st)
	}
	return nil
}

func applySequence(tx *bolt.Tx, a *Attempt, d *Decision) error {
	now := d.DecidedAt
	ends := now.Add(24 * time.Hour)
	if a.Sequence != nil {
		var total time.Duration
		for _, st := range a.Sequence.Steps {
			total += st.Delay
		}
		ends = ends.Add(total)
	}
	st, _, err := get[ContactState](tx, bucketContacts, d.ContactID)
	if err != nil {
		return err
	}
	st.Sequence = &ActiveSequence{SequenceID: d.Target.ID, EnrollmentID: d.EnrollmentID, OwnerID: d.OwnerID,
		CrossingID: d.CrossingID, EnrolledAt: now, EndsAt: ends}
	st.Workflows = slices.DeleteFunc(st.Workflows, func(w string) bool { return slices.Contains(d.Unenrolled, w) })
	if err := put(tx, bucketContacts, d.ContactID, st); err != nil {
		return err
	}
	if d.CompanyID != "" {
		cs := CompanyState{ContactID: d.ContactID, SequenceID: d.Target.ID, EndsAt: ends}
		if err := put(tx, bucketCompanies, d.CompanyID, cs); err != nil {
			return err
		}
	}
	if d.OwnerID == "" {
		return nil
	}
	return charge(tx, d.OwnerID, now, a.Schedule)
}

// charge adds an enrollment at `at` and its projected sends to the
// sender's rolling usage.
func charge(tx *bolt.Tx, ownerID string, at time.Time, sends []time.Time) error {
	u, _, err := get[SenderUsage](tx, bucketSenders, ownerID)
	if err != nil {
		return err
	}
	cut := at.Add(-24 * time.Hour)
	keep := func(ts []time.Time) []time.Time {
		return slices.DeleteFunc(ts, func(t time.Time) bool { return !t.After(cut) })
	}
	u.Enrollments = append(keep(u.Enrollments), at)
	u.Sends = append(keep(u.Sends), sends...)
	sort.Slice(u.Sends, func(i, j int) bool { return u.Sends[i].Before(u.Sends[j]) })
	return put(tx, bucketSenders, ownerID, u)
}

func appendOutbox(tx *bolt.Tx, d *Decision) error {
	b := tx.Bucket(bucketOutbox)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	key := make([]byte, 8)
	binary.BigEndian.PutUint64(key, seq)
	return b.Put(key, raw)
}

// Held lists the held queue, highest score first, then oldest crossing.
func (s *Store) Held() ([]HeldItem, error) {
	var out []HeldItem
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketHeld).ForEach(func(k, v []byte) error {
			var h HeldItem
			if err := json.Unmarshal(v, &h); err != nil {
				return fmt.Errorf("state held/%s: %w", k, err)
			}
			out = append(out, h)
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Crossing, out[j].Crossing
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		if !a.CrossedAt.Equal(b.CrossedAt) {
			return a.CrossedAt.Before(b.CrossedAt)
		}
		return a.CrossingID < b.CrossingID
	})
	return out, err
}

// Due lists held crossings whose NotBefore has come, highest score first.
func (s *Store) Due(now time.Time) ([]HeldItem, error) {
	all, err := s.Held()
	return slices.DeleteFunc(all, func(h HeldItem) bool { return h.Decision.NotBefore.After(now) }), err
}

// OutboxEntry is a decision waiting to be recorded.
type OutboxEntry struct {
	Key      uint64
	Decision Decision
}

// Outbox returns up to limit decisions not yet acknowledged by the Recorder.
func (s *Store) Outbox(limit int) ([]OutboxEntry, error) {
	return readOutbox(s, bucketOutbox, "outbox", limit, func(key uint64, d Decision) OutboxEntry {
		return OutboxEntry{Key: key, Decision: d}
	})
}

// AckOutbox removes recorded decisions from the outbox.
func (s *Store) AckOutbox(entries []OutboxEntry) error {
	return s.ack(bucketOutbox, entryKeys(entries, func(e OutboxEntry) uint64 { return e.Key }))
}

// readOutbox returns up to limit entries of an outbox bucket (JSON rows T
// under big-endian sequence keys), oldest first.
func readOutbox[E, T any](s *Store, bucket []byte, name string, limit int, entry func(key uint64, row T) E) ([]E, error) {
	var out []E
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			var r T
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("state %s: %w", name, err)
			}
			out = append(out, entry(binary.BigEndian.Uint64(k), r))
		}
		return nil
	})
	return out, err
}

// entryKeys returns the outbox keys of entries.
func entryKeys[E any](entries []E, key func(E) uint64) []uint64 {
	keys := make([]uint64, len(entries))
	for i, e := range entries {
		keys[i] = key(e)
	}
	return keys
}

func (s *Store) ack(bucket []byte, keys []uint64) error {
	return s.update(func(tx *bolt.Tx, n *sizeDelta) error {
		b := tx.Bucket(bucket)
		key := make([]byte, 8)
		gone := int64(0)
		for _, k := range keys {
			binary.BigEndian.PutUint64(key, k)
			if b.Get(key) == nil {
				continue
			}
			if err := b.Delete(key); err != nil {
				return err
			}
			gone++
		}
		if bytes.Equal(bucket, bucketCalls) {
			n.calls -= gone
		} else {
			n.outbox -= gone
		}
		return nil
	})
}

// PruneProcessed forgets final decisions made before cutoff, bounding the
// idempotence memory; a crossing redelivered after that would be decided
// again (and still meet the ledger and HubSpot's one-sequence rule).
func (s *Store) PruneProcessed(cutoff time.Time) (int, error) {
	return s.prune(bucketProcessed, func(_, v []byte) (bool, error) {
		var d Decision
		if err := json.Unmarshal(v, &d); err != nil {
			return false, err
		}
		return d.DecidedAt.Before(cutoff), nil
	})
}

// prune deletes, in one transaction, the entries of bucket that expired
// says are expired, and returns how many.
func (s *Store) prune(bucket []byte, expired func(k, v []byte) (bool, error)) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		var dead [][]byte
		err := b.ForEach(func(k, v []byte) error {
			x, err := expired(k, v)
			if x {
				dead = append(dead, slices.Clone(k))
			}
			return err
		})
		if err != nil {
			return err
		}
		for _, k := range dead {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(dead)
		return nil
	})
	return n, err
}

var _ Ledger = (*Store)(nil)
