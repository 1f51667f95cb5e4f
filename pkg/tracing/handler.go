package tracing

import (
	"net"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Span attributes csclr adds; OpenTelemetry's conventions have none for them.
const (
	RevisionKey  = attribute.Key("csclr.revision")   // "namespace/name", as in the request log
	ColdStartKey = attribute.Key("csclr.cold_start") // the activator held the request until a pod was ready
)

// Outcome is what only the chain knows once a request is done.
type Outcome struct {
	Status     int // the response's status code; 0 = not known
	Attributes []attribute.KeyValue
}

// Describe reads a finished request's Outcome; w and r are those the
// Handler step was called with.
type Describe func(w http.ResponseWriter, r *http.Request) Outcome

// Handler is the tracing step of a handler chain. Per request it continues
// the caller's trace (W3C traceparent and tracestate), starts a server span
// named name, and writes the span's context back into the request's
// headers, which the chain's proxy forwards: so the next hop sees this span
// as its parent, and the request log's traceId is this trace's. When
// tracing is off it returns next itself.
func (t *Tracing) Handler(name string, describe Describe, next http.Handler) http.Handler {
	if !t.Enabled() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		carrier := propagation.HeaderCarrier(r.Header)
		ctx := t.propagator.Extract(r.Context(), carrier)
		ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
			semconv.HTTPRequestMethodKey.String(r.Method),
			semconv.ServerAddress(hostOnly(r.Host)),
			semconv.URLPath(r.URL.Path),
			semconv.NetworkProtocolVersion(protocolVersion(r)),
		))
		t.propagator.Inject(ctx, carrier)
		r = r.WithContext(ctx)

		// Deferred, so that the span ends also when the proxy aborts the
		// response with a panic (http.ErrAbortHandler), which carries on.
		completed := false
		defer func() {
			out := describe(w, r)
			span.SetAttributes(out.Attributes...)
			if out.Status != 0 {
				span.SetAttributes(semconv.HTTPResponseStatusCode(out.Status))
			}
			switch {
			case !completed:
				span.SetStatus(codes.Error, "response aborted")
			case out.Status >= 500:
				// Server spans mark only 5xx as errors; 4xx is the client's.
				span.SetStatus(codes.Error, "HTTP "+strconv.Itoa(out.Status))
			}
			span.End()
		}()
		next.ServeHTTP(w, r)
		completed = true
	})
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

func protocolVersion(r *http.Request) string {
	if r.ProtoMajor == 2 {
		return "2"
	}
	return strconv.Itoa(r.ProtoMajor) + "." + strconv.Itoa(r.ProtoMinor)
}
