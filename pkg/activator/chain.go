// Package activator is csclr's data plane for cold and bursty traffic and its
// mesh-less gateway: a chain of small http.Handlers that finds a request's
// revision, holds it while the revision has no ready pod, and forwards it to
// a pod with a free slot.
package activator

import (
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"k8s.io/utils/clock"

	"csclr.dev/csclr/pkg/forward"
	"csclr.dev/csclr/pkg/gateway"
	"csclr.dev/csclr/pkg/stats"
	"csclr.dev/csclr/pkg/tracing"
)

// Chain is everything the handler chain needs.
type Chain struct {
	Table    func() *gateway.Table // the current routing table
	Balancer *Balancer
	// Cold is told about every request that finds its revision without a
	// ready pod (the scaler's Signaller), at once.
	Cold func(rev Key)
	// Transport carries HTTP/1.1 (and upgrades); H2C carries requests that
	// arrived as cleartext HTTP/2 (gRPC). H2C may be nil.
	Transport, H2C http.RoundTripper
	// Clock also times the revisions' request timeouts.
	Clock clock.WithDelayedExecution
	Log   *slog.Logger // one line per request; nil = no request log
	// Errors receives the proxy's own failures that no response reports
	// (a WebSocket copy cut); nil discards them.
	Errors  *slog.Logger
	Metrics *Metrics         // nil = no metrics
	Tracing *tracing.Tracing // nil or off = no spans, and no step
	// RetryAfter is the Retry-After sent with 503 when a queue is full.
	RetryAfter time.Duration
}

// NewHandler builds the activator's request path, outermost first:
// trace span → request log → metrics → route lookup and weighted revision
// choice → this hop in Forwarded / X-Forwarded-For → admit (the revision's
// state and its timeouts, from the request's arrival) → hold (count, signal
// the scaler if cold, wait for a pod slot: the load balancing) → proxy to
// the pod.
func NewHandler(c Chain) http.Handler {
	var h http.Handler = proxy(c.Transport, c.H2C, c.Errors)
	h = hold(c, h)
	h = admit(c.Balancer, c.Clock, h)
	h = forward.Hop(h) // once: hold may send the request twice
	h = resolve(c.Table, h)
	if c.Metrics != nil {
		h = c.Metrics.handler(h)
	}
	if c.Log != nil {
		h = logRequests(c.Log, c.Clock, h)
	}
	h = c.Tracing.Handler("activator_proxy", spanOutcome, h)
	return begin(c.Clock, h)
}

// begin attaches the exchange every later handler fills in, and drops a
// client's copy of the counted mark (see markCounted) before anything else
// sees the request.
func begin(clk clock.PassiveClock, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dropCountedMark(r.Header)
		x := &exchange{ResponseWriter: w, start: clk.Now()}
		next.ServeHTTP(x, r.WithContext(contextWith(r, x)))
	})
}

// resolve finds the request's revision in the routing table (a fresh random
// draw per request: weighted, never sticky); unknown hosts get 404.
func resolve(table func() *gateway.Table, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := exchangeOf(r.Context())
		t, ok := table().Resolve(r.Host, r.Header, rand.Uint64())
		if !ok {
			http.Error(w, "no route for host "+strconv.Quote(r.Host), http.StatusNotFound)
			return
		}
		x.target = t
		next.ServeHTTP(w, r)
	})
}

// hold takes a slot on one of the revision's pods. Without a ready pod the
// request waits in a bounded per-revision queue, at most until a response
// should have started (admit), and the scaler hears of it at once. A request
// that waited is counted in this activator's report and goes to the pod
// marked as such (markCounted), on every attempt.
func hold(c Chain, next http.Handler) http.Handler {
	retryAfter := strconv.Itoa(max(1, int(c.RetryAfter/time.Second)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := exchangeOf(r.Context())
		rev := x.target.Revision
		s := x.rev
		respondBy := x.start.Add(s.timeouts().First())

		// One retry on another pod when the first could not be dialled (a
		// pod gone before the informer said so) and nothing was sent.
		for attempt := 0; attempt < 2; attempt++ {
			start := c.Clock.Now()
			// x.waited: a retry that waits again is still one request.
			p, waited, err := s.thr.acquire(r.Context(), respondBy.Sub(start), x.waited, func() {
				if c.Metrics != nil {
					c.Metrics.coldStarts.Inc()
				}
				if c.Cold != nil {
					c.Cold(rev)
				}
			})
			if waited {
				x.waited, x.wait = true, x.wait+c.Clock.Now().Sub(start)
			}
			switch {
			case errors.Is(err, errQueueFull):
				w.Header().Set("Retry-After", retryAfter)
				http.Error(w, "revision "+rev.String()+": too many requests waiting for a pod; retry later", http.StatusServiceUnavailable)
				return
			case errors.Is(err, errNoPodYet):
				http.Error(w, "revision "+rev.String()+": no pod became ready within the revision's timeout", http.StatusGatewayTimeout)
				return
			case err != nil:
				x.status = statusClientGone
				return
			}
			x.addr, x.retryable = p.addr, attempt == 0 && bodyless(r)
			if x.waited { // in this attempt or the one before: counted either way
				markCounted(r.Header)
			}
			serveOn(s.thr, p, next, w, r)
			if !x.dialFailed {
				return
			}
			x.dialFailed = false
			s.thr.drop(p) // until the next sync lists it again
		}
		http.Error(w, "revision "+rev.String()+": pod "+x.addr+" could not be reached", http.StatusBadGateway)
	})
}

// serveOn serves the request on p and frees p's slot however next ends
// (the proxy panics with http.ErrAbortHandler when a copy fails).
func serveOn(t *throttler, p *pod, next http.Handler, w http.ResponseWriter, r *http.Request) {
	defer t.release(p)
	next.ServeHTTP(w, r)
}

// markCounted tells the pod's queue sidecar that this activator counted the
// request in its report, so that the sidecar does not count it again
// (stats.CountedHeader): the scaler sums both. The header map is shared by
// the attempts (the proxy forwards it as it is), so the mark stays on a
// retry. Requests that did not wait are not in the report and go unmarked.
func markCounted(h http.Header) { h[stats.CountedHeader] = []string{stats.CountedHeaderValue} }

// dropCountedMark removes a client's copy of the mark: only the activator
// may say it counted a request, or a caller could hide its requests from
// its revision's request rate.
func dropCountedMark(h http.Header) { delete(h, stats.CountedHeader) }

// bodyless reports whether the request can be sent twice.
func bodyless(r *http.Request) bool {
	return r.Body == nil || r.Body == http.NoBody || (r.ContentLength == 0 && len(r.TransferEncoding) == 0)
}

// isDialError reports whether err happened before any byte reached the pod.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// proxy forwards to the pod chosen by hold, keeping the Host the client
// sent (the user container may route on it).
func proxy(h1, h2c http.RoundTripper, errLog *slog.Logger) http.Handler {
	return forward.New(forward.Options{
		Log:       errLog,
		Target:    func(r *http.Request) string { return exchangeOf(r.Context()).addr },
		Transport: forward.ByProtocol(h1, h2c),
		Error: func(w http.ResponseWriter, r *http.Request, err error) {
			x := exchangeOf(r.Context())
			if r.Context().Err() != nil {
				x.status = statusClientGone
				return
			}
			if x.retryable && isDialError(err) {
				x.dialFailed = true // hold retries on another pod
				return
			}
			http.Error(w, "revision "+x.target.Revision.String()+": pod "+x.addr+" failed: "+err.Error(), http.StatusBadGateway)
		},
	})
}

// logRequests writes one JSON line per request after it is answered. The
// handler's own "time" is when the line was written, the end; "start" is
// when the request arrived, as in the queue sidecar's line, whose fields
// and units (seconds) these are, plus the cold start and its wait.
func logRequests(log *slog.Logger, clk clock.PassiveClock, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		x := exchangeOf(r.Context())
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.Time("start", x.start),
			slog.String("method", r.Method),
			slog.String("host", r.Host),
			slog.String("path", r.URL.Path),
			slog.String("proto", r.Proto),
			slog.String("revision", x.target.Revision.String()),
			slog.Int("status", x.code()),
			slog.Float64("latencySeconds", clk.Now().Sub(x.start).Seconds()),
			slog.Int64("bytes", x.bytes),
			slog.String("traceId", traceID(r.Header.Get("traceparent"))),
			slog.Bool("cold", x.waited),
			slog.Float64("waitSeconds", x.wait.Seconds()),
		)
	})
}

// spanOutcome is what the trace span records once the request is done;
// the span covers the whole stay in the activator, a cold start's wait too.
func spanOutcome(_ http.ResponseWriter, r *http.Request) tracing.Outcome {
	x := exchangeOf(r.Context())
	attrs := []attribute.KeyValue{tracing.ColdStartKey.Bool(x.waited)}
	if rev := x.target.Revision; rev.Name != "" { // empty for unknown hosts
		attrs = append(attrs, tracing.RevisionKey.String(rev.String()))
	}
	return tracing.Outcome{Status: x.code(), Attributes: attrs}
}

// traceID reads the trace id of a W3C traceparent header
// (version-traceid-parentid-flags).
func traceID(tp string) string {
	if len(tp) >= 55 && tp[2] == '-' && tp[35] == '-' {
		return tp[3:35]
	}
	return ""
}
