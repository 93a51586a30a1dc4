package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/enrollment"
	"github.com/scorebridge/scorebridge/internal/bearer"
)

// web is the bridge's HTTP server: probes and metrics from the start,
// /decisions once the audit is open, /quota from the state store, all
// behind the bearer guard.
type web struct {
	addr      string
	srv       *http.Server
	decisions atomic.Pointer[http.HandlerFunc]
}

// serveHTTP listens on o.HTTP and serves until shutdown; notReady
// answers /readyz: why the bridge is not ready, "" when it is.
func serveHTTP(o Options, reg *prometheus.Registry, log zerolog.Logger, notReady func() string, quota http.HandlerFunc) (*web, error) {
	ln, err := net.Listen("tcp", o.HTTP)
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	w := &web{addr: ln.Addr().String()}
	w.srv = &http.Server{Handler: bearer.Guard(routes(reg, notReady, w.serveDecisions, quota), o.APIToken, bearer.Open...),
		ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := w.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("http server")
		}
	}()
	return w, nil
}

func (w *web) setDecisions(h http.HandlerFunc) { w.decisions.Store(&h) }

func (w *web) serveDecisions(rw http.ResponseWriter, r *http.Request) {
	if d := w.decisions.Load(); d != nil {
		(*d)(rw, r)
		return
	}
	http.Error(rw, "starting: waiting for the audit store (ClickHouse)", http.StatusServiceUnavailable)
}

func (w *web) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = w.srv.Shutdown(ctx)
}

func routes(reg *prometheus.Registry, notReady func() string, decisions, quota http.HandlerFunc) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if why := notReady(); why != "" {
			http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.HandleFunc("GET /decisions", decisions)
	mux.HandleFunc("GET /quota", quota)
	return mux
}

// quotaAnswer is GET /quota: every configured sender's use of its caps
// now, as the quota stage would count it before an enrollment.
type quotaAnswer struct {
	At      time.Time                `json:"at"`
	Senders []enrollment.SenderQuota `json:"senders"`
}

// quotaFrom answers GET /quota from the bridge's state store: read-only
// (bbolt read transactions), so it never delays a decision.
func quotaFrom(cfg *enrollment.Config, store *enrollment.Store, now func() time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		at := now().UTC()
		held, err := store.Held()
		var qs []enrollment.SenderQuota
		if err == nil {
			qs, err = enrollment.QuotaUse(cfg, store, held, at)
		}
		if err != nil {
			http.Error(w, "quota: state store: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(quotaAnswer{At: at, Senders: qs})
	}
}

// maxContactID bounds the contact id /decisions accepts: far above any
// CRM's ids, far below what makes the ClickHouse query too large.
const maxContactID = 1024

// decisionsAnswer is GET /decisions?contact_id=: one shape whichever audit
// answers, so a dashboard or a script need not know how the bridge runs.
type decisionsAnswer struct {
	ContactID string               `json:"contact_id"`
	Source    string               `json:"source"` // clickhouse | local
	Decisions []analytics.Decision `json:"decisions"`
}

// decisionsFrom answers GET /decisions?contact_id= from ClickHouse when
// configured, else from the local audit, in the same shape: the rows
// analytics.Store.Decisions reads (outcome and reason apart).
func decisionsFrom(ch *analytics.Store, local *enrollment.LocalAudit) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("contact_id")
		switch {
		case id == "":
			http.Error(w, "contact_id is required", http.StatusBadRequest)
			return
		case len(id) > maxContactID:
			// ClickHouse would refuse the query with its own text (over
			// max_query_size); no contact has such an id.
			http.Error(w, fmt.Sprintf("contact_id is %d bytes long; at most %d", len(id), maxContactID), http.StatusBadRequest)
			return
		}
		body := decisionsAnswer{ContactID: id}
		if ch != nil {
			rep, err := ch.Decisions(r.Context(), id)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			body.Source, body.Decisions = "clickhouse", orEmpty(rep.Decisions)
		} else {
			ds, err := local.Decisions(id)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			body.Source, body.Decisions = "local", localDecisionRows(ds)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	}
}

// localDecisionRows maps local-audit decisions to the rows ClickHouse
// would return for them: the same mapping the ClickHouse recorder writes,
// times at the microsecond ClickHouse keeps, in UTC, ordered as its query
// orders (time, then decision id).
func localDecisionRows(ds []enrollment.Decision) []analytics.Decision {
	rows, _ := enrollment.DecisionRows(ds)
	for i := range rows {
		rows[i].DecidedAt = time.UnixMicro(rows[i].DecidedAt.UnixMicro()).UTC()
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if !rows[i].DecidedAt.Equal(rows[j].DecidedAt) {
			return rows[i].DecidedAt.Before(rows[j].DecidedAt)
		}
		return rows[i].DecisionID < rows[j].DecisionID
	})
	return rows
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
