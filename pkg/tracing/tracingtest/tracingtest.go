// Package tracingtest records the spans of pkg/tracing in memory, for the
// tests of the data path (the activator and the queue sidecar) that check
// which spans a request makes and what each hop propagates to the next.
package tracingtest

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"csclr.dev/csclr/pkg/tracing"
)

// A caller's sampled span, as a request from outside the cluster carries it.
const (
	CallerTrace       = "4bf92f3577b34da6a3ce929d0e0e4736"
	CallerSpan        = "00f067aa0ba902b7"
	CallerTraceparent = "00-" + CallerTrace + "-" + CallerSpan + "-01"
)

// New returns tracing on, with every span the SDK's default sampler keeps
// (all new traces, and those whose caller sampled them) in the recorder
// once ended. The provider shuts down when the test ends.
func New(tb testing.TB) (*tracing.Tracing, *tracetest.SpanRecorder) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	tb.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tracing.WithProvider(tp), sr
}

// Discarding returns tracing on, with every span batched for an exporter
// that throws it away: what tracing costs a request, without the network,
// for benchmarks.
func Discarding(tb testing.TB) *tracing.Tracing {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	tb.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tracing.WithProvider(tp)
}

// TraceparentOf is the W3C traceparent that the hop after s must get: s's
// trace, s as the parent, sampled.
func TraceparentOf(s sdktrace.ReadOnlySpan) string {
	return "00-" + s.SpanContext().TraceID().String() + "-" + s.SpanContext().SpanID().String() + "-01"
}

// Attrs is a span's attributes, each value as a string.
func Attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]string {
	m := map[attribute.Key]string{}
	for _, a := range s.Attributes() {
		m[a.Key] = a.Value.Emit()
	}
	return m
}
