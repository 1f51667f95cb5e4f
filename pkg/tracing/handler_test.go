package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

const (
	callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpan  = "00f067aa0ba902b7"
)

// recorded returns tracing that records every span (the SDK's default
// sampler follows a sampled parent and samples new traces).
func recorded(t *testing.T) (*Tracing, *tracetest.SpanRecorder) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return WithProvider(tp), sr
}

// seen is what the next hop (the handler after the tracing step) got.
type seen struct {
	traceparent, tracestate string
	span                    trace.SpanContext
}

func serve(t *testing.T, tr *Tracing, header http.Header, status int) (seen, *httptest.ResponseRecorder) {
	t.Helper()
	var s seen
	h := tr.Handler("test_proxy", func(w http.ResponseWriter, r *http.Request) Outcome {
		return Outcome{Status: w.(*httptest.ResponseRecorder).Code, Attributes: []attribute.KeyValue{RevisionKey.String("ns/hello-00001")}}
	}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s = seen{r.Header.Get("traceparent"), r.Header.Get("tracestate"), trace.SpanContextFromContext(r.Context())}
		w.WriteHeader(status)
	}))
	req := httptest.NewRequest(http.MethodGet, "http://hello.ns.example.com:8080/path", nil)
	for k, v := range header {
		req.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return s, w
}

func TestHandlerContinuesTheCallersTrace(t *testing.T) {
	tr, sr := recorded(t)
	got, _ := serve(t, tr, http.Header{
		"Traceparent": {"00-" + callerTrace + "-" + callerSpan + "-01"},
		"Tracestate":  {"vendor=opaque"},
	}, http.StatusCreated)

	spans := sr.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans ended, want 1", len(spans))
	}
	s := spans[0]
	if s.SpanContext().TraceID().String() != callerTrace || s.Parent().SpanID().String() != callerSpan || !s.Parent().IsRemote() {
		t.Errorf("span %s parent %s: want trace %s, remote parent %s", s.SpanContext().TraceID(), s.Parent().SpanID(), callerTrace, callerSpan)
	}
	if s.SpanKind() != trace.SpanKindServer || s.Name() != "test_proxy" {
		t.Errorf("span %q kind %v, want test_proxy server", s.Name(), s.SpanKind())
	}
	// The next hop's parent is our span, in the same trace.
	want := "00-" + callerTrace + "-" + s.SpanContext().SpanID().String() + "-01"
	if got.traceparent != want || got.tracestate != "vendor=opaque" {
		t.Errorf("next hop got traceparent %q tracestate %q, want %q and the caller's tracestate", got.traceparent, got.tracestate, want)
	}
	if got.span.SpanID() != s.SpanContext().SpanID() {
		t.Errorf("the request context carries span %s, want ours %s", got.span.SpanID(), s.SpanContext().SpanID())
	}
	attrs := map[attribute.Key]attribute.Value{}
	for _, a := range s.Attributes() {
		attrs[a.Key] = a.Value
	}
	for k, v := range map[attribute.Key]string{
		"http.request.method": "GET", "server.address": "hello.ns.example.com", "url.path": "/path",
		"network.protocol.version": "1.1", "http.response.status_code": "201", RevisionKey: "ns/hello-00001",
	} {
		if attrs[k].Emit() != v {
			t.Errorf("attribute %s = %q, want %q", k, attrs[k].Emit(), v)
		}
	}
	if s.Status().Code != codes.Unset {
		t.Errorf("status %v for a 201, want unset", s.Status())
	}
}

func TestHandlerStartsATraceWithoutCaller(t *testing.T) {
	tr, sr := recorded(t)
	got, _ := serve(t, tr, http.Header{"Traceparent": {"not-a-traceparent"}}, http.StatusOK)
	s := sr.Ended()[0]
	if s.Parent().IsValid() {
		t.Errorf("span has parent %v, want a root span", s.Parent())
	}
	if want := "00-" + s.SpanContext().TraceID().String() + "-" + s.SpanContext().SpanID().String() + "-01"; got.traceparent != want {
		t.Errorf("next hop got %q, want %q", got.traceparent, want)
	}
}

// A caller that decided not to sample is followed: nothing is recorded, but
// the next hop still gets the trace, with the decision.
func TestHandlerFollowsTheCallersSamplingDecision(t *testing.T) {
	tr, sr := recorded(t)
	got, _ := serve(t, tr, http.Header{"Traceparent": {"00-" + callerTrace + "-" + callerSpan + "-00"}}, http.StatusOK)
	if n := len(sr.Ended()); n != 0 {
		t.Errorf("%d spans recorded for an unsampled caller, want 0", n)
	}
	if !strings.HasPrefix(got.traceparent, "00-"+callerTrace+"-") || !strings.HasSuffix(got.traceparent, "-00") {
		t.Errorf("next hop got %q, want the caller's trace, unsampled", got.traceparent)
	}
}

func TestHandlerMarksServerErrors(t *testing.T) {
	tr, sr := recorded(t)
	serve(t, tr, nil, http.StatusNotFound)
	serve(t, tr, nil, http.StatusBadGateway)
	spans := sr.Ended()
	if spans[0].Status().Code != codes.Unset || spans[1].Status().Code != codes.Error {
		t.Errorf("statuses %v (404) and %v (502), want unset and error", spans[0].Status(), spans[1].Status())
	}
}

// The proxies abort a half-sent response with http.ErrAbortHandler; the span
// must still end, and the panic carry on to net/http.
func TestHandlerEndsTheSpanOnAbort(t *testing.T) {
	tr, sr := recorded(t)
	h := tr.Handler("test_proxy", func(http.ResponseWriter, *http.Request) Outcome { return Outcome{Status: 200} },
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	func() {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler passed on", p)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}()
	if spans := sr.Ended(); len(spans) != 1 || spans[0].Status().Code != codes.Error {
		t.Errorf("after an abort: %d spans, want 1 with an error status", len(spans))
	}
}

type nextHandler struct{}

func (*nextHandler) ServeHTTP(http.ResponseWriter, *http.Request) {}

// Off, the step is not there at all: no cost on the hot path.
func TestHandlerOffAddsNoStep(t *testing.T) {
	next := &nextHandler{}
	disabled, err := New(context.Background(), Config{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, tr := range map[string]*Tracing{"nil": nil, "Disabled": Disabled(), "New(off)": disabled} {
		if h := tr.Handler("x", nil, next); h != http.Handler(next) {
			t.Errorf("%s: Handler wrapped next", name)
		}
		if tr.Enabled() {
			t.Errorf("%s: enabled", name)
		}
		if err := tr.Shutdown(context.Background()); err != nil {
			t.Errorf("%s: Shutdown: %v", name, err)
		}
	}
}
