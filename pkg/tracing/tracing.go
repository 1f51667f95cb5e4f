// Package tracing gives csclr's data path (the activator and the queue
// sidecar) OpenTelemetry server spans with W3C Trace Context propagation,
// exported over OTLP/HTTP. It is off by default, and then costs nothing:
// the provider is OpenTelemetry's no-op one and Handler adds no step.
package tracing

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// scope is the instrumentation scope of csclr's spans.
const scope = "csclr.dev/csclr/pkg/tracing"

// Options describe the process the spans come from.
type Options struct {
	ServiceName    string // service.name, e.g. csclr-activator
	Pod, Namespace string // k8s.pod.name and k8s.namespace.name, when known
	// OnError hears of export failures (the collector is down, ...).
	// OpenTelemetry reports them through one process-wide handler, which
	// New replaces when OnError is set; otherwise they go to the standard
	// logger.
	OnError func(error)
}

// Tracing is a process's tracer provider and propagator. A nil *Tracing is
// tracing off.
type Tracing struct {
	provider   trace.TracerProvider
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	enabled    bool
	shutdown   func(context.Context) error
}

// New builds the tracing of one process from cfg: when cfg is enabled, an
// SDK provider that samples new traces at cfg.SampleRate (and follows the
// caller's decision when a traceparent says it), batching spans to the
// OTLP/HTTP exporter; otherwise the no-op provider.
func New(ctx context.Context, cfg Config, opts Options) (*Tracing, error) {
	if !cfg.Enabled() {
		return Disabled(), nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(cfg.Endpoint))
	if err != nil {
		return nil, fmt.Errorf("tracing: creating the OTLP exporter for %s: %w", cfg.Endpoint, err)
	}
	attrs := []attribute.KeyValue{semconv.ServiceName(opts.ServiceName)}
	if opts.Pod != "" {
		attrs = append(attrs, semconv.K8SPodName(opts.Pod))
	}
	if opts.Namespace != "" {
		attrs = append(attrs, semconv.K8SNamespaceName(opts.Namespace))
	}
	ours := resource.NewWithAttributes(semconv.SchemaURL, attrs...)
	// The default resource adds the SDK's attributes and honours
	// OTEL_RESOURCE_ATTRIBUTES; ours wins where both set a key.
	res, err := resource.Merge(resource.Default(), ours)
	if err != nil {
		res = ours // only when the schema URLs differ: keep what matters
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp), // never blocks a request: spans are dropped when its queue is full
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRate))),
	)
	if opts.OnError != nil {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(opts.OnError))
	}
	t := WithProvider(tp)
	t.shutdown = tp.Shutdown
	return t, nil
}

// Disabled is tracing off: the no-op provider, and Handler adds no step.
func Disabled() *Tracing {
	tp := noop.NewTracerProvider()
	return &Tracing{provider: tp, tracer: tp.Tracer(scope), propagator: propagation.TraceContext{}}
}

// WithProvider records spans with tp, which the caller owns (tests pass an
// SDK provider with an in-memory exporter).
func WithProvider(tp trace.TracerProvider) *Tracing {
	return &Tracing{provider: tp, tracer: tp.Tracer(scope), propagator: propagation.TraceContext{}, enabled: true}
}

// Enabled reports whether Handler records spans.
func (t *Tracing) Enabled() bool { return t != nil && t.enabled }

// Provider is the tracer provider, for spans other than Handler's.
func (t *Tracing) Provider() trace.TracerProvider {
	if t == nil {
		return noop.NewTracerProvider()
	}
	return t.provider
}

// Shutdown exports the spans still batched and stops the exporter; call it
// once the servers have finished their requests.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.shutdown == nil {
		return nil
	}
	if err := t.shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: flushing spans: %w", err)
	}
	return nil
}
