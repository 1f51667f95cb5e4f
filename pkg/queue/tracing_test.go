package queue

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"csclr.dev/csclr/pkg/tracing"
	"csclr.dev/csclr/pkg/tracing/tracingtest"
)

// tracedQueue serves the chain with spans recorded in memory, in front of
// a user container that reports the traceparent it got.
func tracedQueue(t *testing.T, cfg Config) (string, *tracetest.SpanRecorder) {
	t.Helper()
	tr, sr := tracingtest.New(t)
	p := NewParts(cfg, discardLog())
	p.Readiness.SetProbed(true)
	p.Tracing = tr
	srv := httptest.NewUnstartedServer(NewHandler(p))
	srv.Config.Protocols = servingProtocols()
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL, sr
}

// TestTracingToTheUserContainer: the caller's traceparent → the queue's
// span is its child → the user container's parent is the queue's span.
func TestTracingToTheUserContainer(t *testing.T) {
	user := startUser(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Got-Traceparent", r.Header.Get("traceparent"))
		w.WriteHeader(http.StatusAccepted)
	}))
	url, sr := tracedQueue(t, testConfig(user))
	code, _, h := get(t, url+"/work", http.Header{"Traceparent": {tracingtest.CallerTraceparent}})
	if code != http.StatusAccepted {
		t.Fatalf("status %d", code)
	}
	spans := sr.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.SpanContext().TraceID().String() != tracingtest.CallerTrace || s.Parent().SpanID().String() != tracingtest.CallerSpan || s.Name() != "queue_proxy" {
		t.Errorf("span %q in trace %s with parent %s, want queue_proxy, child of %s / %s",
			s.Name(), s.SpanContext().TraceID(), s.Parent().SpanID(), tracingtest.CallerTrace, tracingtest.CallerSpan)
	}
	if got, want := h.Get("X-Got-Traceparent"), tracingtest.TraceparentOf(s); got != want {
		t.Errorf("user container got traceparent %q, want %q", got, want)
	}
	a := tracingtest.Attrs(s)
	for k, v := range map[attribute.Key]string{"http.response.status_code": "202", tracing.RevisionKey: "ns/hello-00001", "url.path": "/work"} {
		if a[k] != v {
			t.Errorf("span attribute %s = %q, want %q", k, a[k], v)
		}
	}
}

// A request the queue answers itself (here the 504 of the revision
// timeout) is a failed span with that status.
func TestTracingTimeout(t *testing.T) {
	user := startUser(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	cfg := testConfig(user)
	cfg.Timeout = 50 * time.Millisecond
	url, sr := tracedQueue(t, cfg)
	if code, _, _ := get(t, url, nil); code != http.StatusGatewayTimeout {
		t.Fatalf("status %d, want 504", code)
	}
	s := sr.Ended()[0]
	if a := tracingtest.Attrs(s); a["http.response.status_code"] != "504" || s.Status().Code != codes.Error {
		t.Errorf("timed-out span: attributes %v status %v, want 504 and an error", a, s.Status())
	}
}

// Network probes are answered before the span step: no span per probe.
func TestTracingSkipsProbes(t *testing.T) {
	url, sr := tracedQueue(t, testConfig(startUser(t, http.NotFoundHandler())))
	if code, _, _ := get(t, url, http.Header{ProbeHeader: {ProbeHeaderValue}}); code != http.StatusOK {
		t.Fatalf("probe status %d", code)
	}
	if n := len(sr.Ended()); n != 0 {
		t.Errorf("%d spans for a probe, want 0", n)
	}
}

// BenchmarkHopHandlerTracing is BenchmarkHopHandler's queue hop with
// tracing off (the default: no step), with the step over OpenTelemetry's
// no-op provider, and recording every span into a batch that is thrown
// away (the cost when on, without the network):
//
//	go test -run '^$' -bench HopHandlerTracing -benchmem ./pkg/queue/
func BenchmarkHopHandlerTracing(b *testing.B) {
	user := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hello")) }))
	defer user.Close()
	_, port, _ := net.SplitHostPort(user.Listener.Addr().String())
	for _, tc := range []struct {
		name string
		tr   *tracing.Tracing
	}{{"off", nil}, {"noop-provider", tracing.WithProvider(noop.NewTracerProvider())}, {"sampled", tracingtest.Discarding(b)}} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := testConfig(0)
			cfg.UserPort, _ = strconv.Atoi(port)
			cfg.ContainerConcurrency, cfg.QueueDepth = 100, 1000
			parts := NewParts(cfg, discardLog())
			parts.Readiness.SetProbed(true)
			parts.Tracing = tc.tr
			h := NewHandler(parts)
			req := httptest.NewRequest(http.MethodGet, "http://hello.ns.example.com/", nil)
			req.RemoteAddr = "10.0.0.1:1234"
			w := &discardWriter{header: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.header)
				req.Header = http.Header{"Traceparent": {tracingtest.CallerTraceparent}}
				h.ServeHTTP(w, req)
				if w.code != 0 && w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}
