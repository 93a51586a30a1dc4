package bridge

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/analytics"
	"github.com/scorebridge/scorebridge/enrollment"
	"github.com/scorebridge/scorebridge/writeback"
)

// newWriteback wires the config's writeback section to the HubSpot sink's
// client (one limiter for every call) and checks the properties before
// anything is consumed: the contacts' writer, and the companies' when the
// section has companies; nil without a writeback section.
func newWriteback(ctx context.Context, cfg *enrollment.Config, sink enrollment.Sink, ch *analytics.Store, reg prometheus.Registerer, log zerolog.Logger) ([]*writeback.Writer, error) {
	if cfg.Writeback == nil {
		return nil, nil
	}
	hs, ok := sink.(enrollment.HubSpotSink)
	if !ok {
		return nil, errors.New("writeback needs sink: hubspot")
	}
	o := writeback.Options{Config: cfg.Writeback, CRM: hs.Client, Metrics: writeback.NewMetrics(reg), Log: log}
	if ch != nil {
		o.Recorder = ch
	} else {
		log.Warn().Msg("no --clickhouse: write-back writes are logged and counted, not stored")
	}
	ws := []*writeback.Writer{writeback.New(o)}
	if err := ws[0].EnsureUntil(ctx, cfg.Writeback.Models); err != nil {
		return nil, err
	}
	log.Info().Str("topic", cfg.Writeback.Topic).Str("group", cfg.Writeback.Group).Dur("flush_interval", cfg.Writeback.Flush()).
		Float64("min_delta", cfg.Writeback.Delta()).Msg("write-back on")
	if co := cfg.Writeback.Companies; co != nil {
		w := writeback.NewCompanies(o)
		if err := w.EnsureUntil(ctx, co.Models); err != nil {
			return nil, err
		}
		ws = append(ws, w)
		log.Info().Str("topic", co.Topic).Str("group", co.Group).Msg("company write-back on")
	}
	return ws, nil
}
