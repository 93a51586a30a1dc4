package bridge

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/enrollment"
	"github.com/scorebridge/scorebridge/hubspot"
)

// audit is where the bridge records its decisions and HubSpot calls:
// ClickHouse when configured, else the local store (decisions only; the
// calls are counted).
type audit struct {
	recorder enrollment.Recorder
	local    *enrollment.LocalAudit // without ClickHouse
	ch       *analytics.Store       // with ClickHouse
	writer   *analytics.Writer
	apiRow   func(analytics.APICall)
	// apiStart stores a call's row before it is sent (with ClickHouse).
	apiStart func(analytics.APICall)
}

// openAudit opens ClickHouse at dsn, waiting while it is down (each
// attempt logged and counted) rather than exiting, so a restart during an
// outage resumes once it is back; it fails only when ctx ends. An empty
// dsn keeps the audit in the local store.
func openAudit(ctx context.Context, dsn string, store *enrollment.Store, metrics *enrollment.ServiceMetrics, log zerolog.Logger, httpAddr string) (*audit, error) {
	if dsn == "" {
		local, err := enrollment.NewLocalAudit(store)
		if err != nil {
			return nil, err
		}
		log.Warn().Msg("no --clickhouse: decisions are kept in the local store; HubSpot calls are counted, not stored")
		return &audit{recorder: local, local: local}, nil
	}
	ch, err := analytics.OpenWaiting(ctx, dsn, 5*time.Second, func(err error, wait time.Duration) {
		metrics.Count(enrollment.ErrClickHouse)
		log.Warn().Err(err).Dur("retry_in", wait).Str("http", httpAddr).
			Msg("ClickHouse unavailable at start; waiting for it (the bridge consumes once it answers)")
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	writer := ch.NewWriter(analytics.WriterOptions{FlushInterval: time.Second, Logger: &log,
		OnError: func(string, error) { metrics.Count(enrollment.ErrClickHouse) }})
	return &audit{recorder: enrollment.AnalyticsRecorder{W: writer}, ch: ch, writer: writer,
		// Each row is stored in bbolt before the call returns, so before
		// the bridge acts on its answer; the outbox flush hands the rows
		// to ClickHouse with the decisions.
		apiRow: func(r analytics.APICall) {
			if err := store.AppendAPICall(r); err != nil {
				metrics.Count(enrollment.ErrAPICallAudit)
				log.Error().Err(err).Str("contact_id", r.ContactID).Msg("api call not audited")
			}
		},
		// Each call is stored before it is sent too, so one cut off by a
		// kill -9 (request sent, answer never read) still gets its row:
		// the next start marks it interrupted (recoverCalls).
		apiStart: func(r analytics.APICall) {
			if err := store.StartAPICall(r); err != nil {
				metrics.Count(enrollment.ErrAPICallAudit)
				log.Error().Err(err).Str("contact_id", r.ContactID).Msg("api call start not audited")
			}
		}}, nil
}

// startHook is the client's start hook, nil without ClickHouse (calls are
// only counted then).
func (a *audit) startHook(metrics *enrollment.ServiceMetrics) func(hubspot.Call) {
	if a.apiStart == nil {
		return nil
	}
	return metrics.AuditStartHook(a.apiStart)
}

// recoverCalls turns the calls a killed process sent and never saw
// answered into api_calls rows marked enrollment.InterruptedCall. It runs
// at start, before any call.
func recoverCalls(store *enrollment.Store, log zerolog.Logger) error {
	n, err := store.InterruptAPICalls()
	if err != nil {
		return fmt.Errorf("interrupted api calls: %w", err)
	}
	if n > 0 {
		log.Warn().Int("calls", n).Msg("HubSpot calls cut off by the last stop before their answer; recorded in api_calls as interrupted")
	}
	return nil
}

// flush hands the ClickHouse rows still buffered to ClickHouse.
func (a *audit) flush(ctx context.Context, log zerolog.Logger) {
	if a.writer == nil {
		return
	}
	if err := a.writer.Close(ctx); err != nil {
		log.Warn().Err(err).Msg("clickhouse rows not flushed at exit")
	}
}

func (a *audit) close() {
	if a.ch != nil {
		a.ch.Close()
	}
}
