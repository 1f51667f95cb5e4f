package queue

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"csclr.dev/csclr/pkg/stats"
)

// observe is the chain step that counts the request in the load report for
// its whole life in the pod (queueing included), then records its metrics
// and, if log is not nil, its log line. It survives the proxy's
// http.ErrAbortHandler panics so that counts stay exact. A request the
// activator already counted (takeCountedMark) is in flight here like any
// other, and in the metrics, but not a new request in the report.
func observe(report *stats.Reporter, metrics *Metrics, log *requestLogger, clock Clock, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := clock.Now()
		if takeCountedMark(r.Header) {
			report.BeginCounted()
		} else {
			report.Begin()
		}
		rec := &recorder{ResponseWriter: w}
		defer func() {
			report.End()
			elapsed := clock.Now().Sub(start)
			metrics.observe(rec.status, elapsed)
			if log != nil {
				log.write(r, rec, start, elapsed)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// takeCountedMark reports whether the activator marked the request as
// counted in its own report (stats.CountedHeader), and removes the mark: it
// is between the activator and this sidecar, not for the user container.
// The chain owns the header map, so removing it here keeps it from the proxy.
func takeCountedMark(h http.Header) bool {
	v, ok := h[stats.CountedHeader]
	if !ok {
		return false
	}
	delete(h, stats.CountedHeader)
	return len(v) > 0 && v[0] == stats.CountedHeaderValue
}

// recorder notes the status and body size for metrics and the log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(p []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	n, err := rec.ResponseWriter.Write(p)
	rec.bytes += int64(n)
	return n, err
}

func (rec *recorder) FlushError() error {
	return http.NewResponseController(rec.ResponseWriter).Flush()
}

// Hijack: the proxy writes the 101 of a WebSocket upgrade on the raw
// connection, so record it here.
func (rec *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(rec.ResponseWriter).Hijack()
	if err == nil && rec.status == 0 {
		rec.status = http.StatusSwitchingProtocols
	}
	return conn, rw, err
}

func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// requestLogger writes one JSON line per request.
type requestLogger struct {
	log      *slog.Logger
	revision string
}

func (l *requestLogger) write(r *http.Request, rec *recorder, start time.Time, elapsed time.Duration) {
	l.log.LogAttrs(context.Background(), slog.LevelInfo, "request",
		slog.Time("start", start),
		slog.String("host", r.Host),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("proto", r.Proto),
		slog.String("revision", l.revision),
		slog.Int("status", rec.status),
		slog.Float64("latencySeconds", elapsed.Seconds()),
		slog.Int64("bytes", rec.bytes),
		slog.String("traceId", traceID(r.Header)),
	)
}

// traceID takes the trace id out of a W3C traceparent
// ("00-<32 hex trace id>-<16 hex span id>-<flags>"), or "".
func traceID(h http.Header) string {
	v := h["Traceparent"]
	if len(v) == 0 || len(v[0]) < 55 || v[0][2] != '-' || v[0][35] != '-' {
		return ""
	}
	return v[0][3:35]
}
