package queue

import (
	"log/slog"
	"net/http"

	"go.opentelemetry.io/otel/attribute"

	"csclr.dev/csclr/pkg/forward"
	"csclr.dev/csclr/pkg/stats"
	"csclr.dev/csclr/pkg/tracing"
)

// Parts are what the serving handler is built from; main (or a test) makes
// them once and shares them with the admin and metrics servers.
type Parts struct {
	Config    Config
	Clock     Clock
	Transport http.RoundTripper // to the user container
	Report    *stats.Reporter
	Metrics   *Metrics
	Breaker   *Breaker // nil when containerConcurrency is 0
	Readiness *Readiness
	Log       *slog.Logger     // errors; and request lines when Config.RequestLog
	Tracing   *tracing.Tracing // nil or off = no spans, and no step
}

// NewParts makes the parts for cfg with the real clock and transport.
func NewParts(cfg Config, log *slog.Logger) Parts {
	p := Parts{
		Config:    cfg,
		Clock:     RealClock{},
		Transport: NewTransport(),
		Readiness: &Readiness{},
		Log:       log,
	}
	p.Report = stats.NewReporter(cfg.RevisionKey(), cfg.Pod, p.Clock.Now)
	if cfg.ContainerConcurrency > 0 {
		p.Breaker = NewBreaker(cfg.ContainerConcurrency, cfg.QueueDepth)
	}
	p.Metrics = NewMetrics(cfg, p.Report, p.Breaker)
	return p
}

// NewHandler builds the request path of the serving port. A request passes
// the steps in this order:
//
//  1. answerNetworkProbes: "K-Network-Probe: queue" is answered here.
//  2. observe: load report, metrics, request log (queueing included); it
//     takes off the activator's stats.CountedHeader.
//  3. traced: a span continuing the caller's trace, passed on to the user
//     container as its parent (only when tracing is on).
//  4. enforceTimeouts: 504 when no response starts in time (queueing included).
//  5. limitConcurrency: containerConcurrency slots, bounded queue, 503 when full.
//  6. forward.Hop: Forwarded / X-Forwarded-* for this hop.
//  7. the proxy to the user container.
func NewHandler(p Parts) http.Handler {
	var h http.Handler = NewProxy(p.Config.UserPort, p.Transport, p.Log)
	h = forward.Hop(h)
	if p.Breaker != nil {
		h = limitConcurrency(p.Breaker, h)
	}
	h = enforceTimeouts(TimeoutsFor(p.Config), p.Clock, h)
	h = traced(p.Tracing, p.Config.RevisionKey(), h)
	var lines *requestLogger
	if p.Config.RequestLog {
		lines = &requestLogger{log: p.Log, revision: p.Config.RevisionKey()}
	}
	h = observe(p.Report, p.Metrics, lines, p.Clock, h)
	return answerNetworkProbes(p.Readiness, h)
}

// traced is the span step. It sits inside observe so that it can read the
// status observe's recorder saw, and outside the timeouts and the
// concurrency limit so that the span covers the wait for a slot.
func traced(t *tracing.Tracing, revision string, next http.Handler) http.Handler {
	attrs := []attribute.KeyValue{tracing.RevisionKey.String(revision)} // shared: spans copy attributes
	return t.Handler("queue_proxy", func(w http.ResponseWriter, _ *http.Request) tracing.Outcome {
		status := http.StatusOK // what net/http sends when nothing was written
		if rec, ok := w.(*recorder); ok && rec.status != 0 {
			status = rec.status
		}
		return tracing.Outcome{Status: status, Attributes: attrs}
	}, next)
}
