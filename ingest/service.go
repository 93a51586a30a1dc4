package ingest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/scorebridge/scorebridge/stream"
)

// Options are what `bridge ingest` runs with.
type Options struct {
	Addr        string // listen address
	Brokers     []string
	EventsTopic string // created with 6 partitions when missing
	DLQTopic    string // webhook items that cannot be events
	// Webhooks is the receiver, configured but for its producers, which
	// Run sets (one per topic).
	Webhooks *Webhooks
	// Poller, when not nil, polls HubSpot's email events through the same
	// producers while Run runs.
	Poller *EmailPoller
	// Registry holds the metrics served at GET /metrics.
	Registry *prometheus.Registry
	Log      zerolog.Logger
	// Ready, when not nil, is called with the listening address once Run
	// accepts requests.
	Ready func(net.Addr)
}

// Run is `bridge ingest`: it creates the topics, serves POST
// /hubspot/webhooks, GET /healthz and GET /metrics on Addr, runs the email
// poller if any, and returns once ctx ends and the server has shut down
// (requests in flight get 5 s).
func Run(ctx context.Context, o Options) error {
	h := o.Webhooks
	if err := stream.EnsureTopics(ctx, o.Brokers, stream.Topic{Name: o.EventsTopic, Partitions: 6}, stream.Topic{Name: o.DLQTopic, Partitions: 1}); err != nil {
		return fmt.Errorf("topics: %w", err)
	}
	for name, p := range map[string]*Producer{o.EventsTopic: &h.Events, o.DLQTopic: &h.DeadLetters} {
		sp, err := stream.NewProducer(stream.ProducerConfig{Brokers: o.Brokers, Topic: name})
		if err != nil {
			return err
		}
		defer sp.Close()
		*p = sp
	}
	var poll time.Duration
	if o.Poller != nil {
		o.Poller.Events, o.Poller.DeadLetters = h.Events, h.DeadLetters
		poll = o.Poller.Interval
		go o.Poller.Run(ctx)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /hubspot/webhooks", h)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", o.Addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	o.Log.Info().Str("addr", ln.Addr().String()).Str("topic", o.EventsTopic).Dur("email_poll", poll).Msg("ingest running")
	if o.Ready != nil {
		o.Ready(ln.Addr())
	}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
