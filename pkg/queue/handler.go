package queue

import (
	"log/slog"
	"net/http"

	"csclr.dev/csclr/pkg/stats"
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
	Log       *slog.Logger // errors; and request lines when Config.RequestLog
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
//  2. observe: load report, metrics, request log (queueing included).
//  3. enforceTimeouts: 504 when no response starts in time (queueing included).
//  4. limitConcurrency: containerConcurrency slots, bounded queue, 503 when full.
//  5. addForwarded: Forwarded / X-Forwarded-* for this hop.
//  6. the proxy to the user container.
func NewHandler(p Parts) http.Handler {
	var h http.Handler = NewProxy(p.Config.UserPort, p.Transport, p.Log)
	h = addForwarded(h)
	if p.Breaker != nil {
		h = limitConcurrency(p.Breaker, h)
	}
	h = enforceTimeouts(TimeoutsFor(p.Config), p.Clock, h)
	var lines *requestLogger
	if p.Config.RequestLog {
		lines = &requestLogger{log: p.Log, revision: p.Config.RevisionKey()}
	}
	h = observe(p.Report, p.Metrics, lines, p.Clock, h)
	return answerNetworkProbes(p.Readiness, h)
}
