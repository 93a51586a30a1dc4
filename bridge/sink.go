package bridge

import (
	"net/http"
	"time"

	"github.com/scorebridge/scorebridge/enrollment"
	"github.com/scorebridge/scorebridge/hubspot"
)

// newSink builds the configured sink; HubSpot's client reports every call
// to start before it is sent (when not nil) and to audit once answered.
func newSink(cfg *enrollment.Config, start, audit func(hubspot.Call), rt http.RoundTripper) (enrollment.Sink, error) {
	switch cfg.Sink {
	case enrollment.SinkHubSpot:
		token, err := hubspot.LoadToken("HUBSPOT_TOKEN", cfg.HubSpot.TokenFile)
		if err != nil {
			return nil, err
		}
		cc := hubspot.ClientConfig{BaseURL: cfg.HubSpot.BaseURL, Token: token, APIVersion: cfg.HubSpot.APIVersion,
			RequestsPerInterval: cfg.HubSpot.RequestsPer10s, Interval: 10 * time.Second, Audit: audit, AuditStart: start,
			// One attempt per call: the bridge's Retry loop is the one
			// that retries (and verifies an ambiguous enrollment), so
			// attempts do not multiply across layers.
			MaxAttempts: 1, AttemptTimeout: 10 * time.Second}
		if rt != nil {
			cc.HTTPClient = &http.Client{Transport: rt}
		}
		c, err := hubspot.NewClient(cc)
		if err != nil {
			return nil, err
		}
		return enrollment.HubSpotSink{Client: c}, nil
	case enrollment.SinkWebhook:
		secret, err := enrollment.WebhookSecret(cfg.Webhook)
		if err != nil {
			return nil, err
		}
		return &enrollment.Webhook{URL: cfg.Webhook.URL, Secret: secret, Client: &http.Client{Timeout: 15 * time.Second}}, nil
	default:
		return enrollment.NewDryRun(), nil
	}
}
