package activator

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"csclr.dev/csclr/pkg/queue"
	"csclr.dev/csclr/pkg/tracing"
	"csclr.dev/csclr/pkg/tracing/tracingtest"
)

// tracedFixture is the fixture with tracing recorded in memory, a request
// log, and a pod that reports the traceparent it got.
func tracedFixture(t *testing.T) (*fixture, *fakePod, *tracetest.SpanRecorder, *bytes.Buffer, chan string) {
	seen := make(chan string, 10)
	pod := startPod(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Get("traceparent")
	}))
	f := newFixture(t, pod, fakeRevisions{}, 10)
	tr, sr := tracingtest.New(t)
	var logs bytes.Buffer
	c := f.chain
	c.Tracing = tr
	c.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	f.front.Config.Handler = NewHandler(c)
	return f, pod, sr, &logs, seen
}

func tracedGet(t *testing.T, f *fixture, traceparent string) *http.Response {
	t.Helper()
	req := mustReq(f.front.URL, "hello.ns.example.com")
	if traceparent != "" {
		req.Header.Set("traceparent", traceparent)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestTracingWarm: the caller's traceparent → the activator's span is its
// child → the pod gets a traceparent whose parent is the activator's span.
func TestTracingWarm(t *testing.T) {
	f, _, sr, logs, seen := tracedFixture(t)
	f.pods.set(rev1, PodInfo{IP: "127.0.0.1", Ready: true})
	if resp := tracedGet(t, f, tracingtest.CallerTraceparent); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	spans := sr.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.SpanContext().TraceID().String() != tracingtest.CallerTrace || s.Parent().SpanID().String() != tracingtest.CallerSpan {
		t.Errorf("span in trace %s with parent %s, want the caller's %s / %s", s.SpanContext().TraceID(), s.Parent().SpanID(), tracingtest.CallerTrace, tracingtest.CallerSpan)
	}
	if got, want := <-seen, tracingtest.TraceparentOf(s); got != want {
		t.Errorf("pod got traceparent %q, want %q", got, want)
	}
	a := tracingtest.Attrs(s)
	for k, v := range map[attribute.Key]string{"server.address": "hello.ns.example.com", "http.response.status_code": "200",
		tracing.RevisionKey: "ns/hello-00001", tracing.ColdStartKey: "false"} {
		if a[k] != v {
			t.Errorf("span attribute %s = %q, want %q", k, a[k], v)
		}
	}
	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil || line["traceId"] != tracingtest.CallerTrace {
		t.Errorf("request log traceId = %v (%v), want %s", line["traceId"], err, tracingtest.CallerTrace)
	}
}

// TestTracingCold: the span covers the wait for a pod and says so.
func TestTracingCold(t *testing.T) {
	f, pod, sr, _, seen := tracedFixture(t)
	done := make(chan *http.Response, 1)
	go func() { done <- tracedGet(t, f, "") }()
	select {
	case <-f.colds:
	case <-time.After(5 * time.Second):
		t.Fatal("no cold signal")
	}
	f.pods.set(rev1, PodInfo{IP: "127.0.0.1"})
	pod.ready.Store(true)
	f.bal.PodsChanged(rev1)
	select {
	case resp := <-done:
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the held request was never released")
	}
	s := sr.Ended()[0]
	if a := tracingtest.Attrs(s); a[tracing.ColdStartKey] != "true" || s.Parent().IsValid() {
		t.Errorf("cold span: attributes %v, parent %v; want cold_start true and a new trace", a, s.Parent())
	}
	if got, want := <-seen, tracingtest.TraceparentOf(s); got != want {
		t.Errorf("pod got traceparent %q, want %q", got, want)
	}
}

func TestTracingUnknownHost(t *testing.T) {
	f, _, sr, _, _ := tracedFixture(t)
	if resp, _ := f.get(t, "nope.example.com"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d", resp.StatusCode)
	}
	a := tracingtest.Attrs(sr.Ended()[0])
	if _, ok := a[tracing.RevisionKey]; ok || a["http.response.status_code"] != "404" {
		t.Errorf("unknown host span attributes %v, want status 404 and no revision", a)
	}
}

// The request log keeps its traceId without tracing too (taken from the
// caller's traceparent, which passes through unchanged).
func TestTracingOffPassesTraceparentThrough(t *testing.T) {
	seen := make(chan string, 1)
	pod := startPod(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen <- r.Header.Get("traceparent") }))
	f := newFixture(t, pod, fakeRevisions{}, 10)
	f.pods.set(rev1, PodInfo{IP: "127.0.0.1", Ready: true})
	tracedGet(t, f, tracingtest.CallerTraceparent)
	if got := <-seen; got != tracingtest.CallerTraceparent {
		t.Errorf("tracing off: pod got %q, want the caller's %q", got, tracingtest.CallerTraceparent)
	}
}

// TestTracingThroughActivatorAndQueue: caller → activator span → queue span
// → user container, one trace, each hop the parent of the next.
func TestTracingThroughActivatorAndQueue(t *testing.T) {
	userGot := make(chan string, 1)
	user := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { userGot <- r.Header.Get("traceparent") }))
	t.Cleanup(user.Close)
	_, userPort, _ := net.SplitHostPort(user.Listener.Addr().String())

	tr, sr := tracingtest.New(t)
	qcfg := queue.Config{Timeout: 10 * time.Second, QueueDepth: queue.MinQueueDepth, Namespace: "ns", Revision: "hello-00001"}
	qcfg.UserPort, _ = strconv.Atoi(userPort)
	parts := queue.NewParts(qcfg, slog.New(slog.DiscardHandler))
	parts.Readiness.SetProbed(true)
	parts.Tracing = tr
	pod := startPod(t, queue.NewHandler(parts))

	f := newFixture(t, pod, fakeRevisions{}, 10)
	f.pods.set(rev1, PodInfo{IP: "127.0.0.1", Ready: true})
	c := f.chain
	c.Tracing = tr
	f.front.Config.Handler = NewHandler(c)
	if resp := tracedGet(t, f, tracingtest.CallerTraceparent); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}

	spans := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range sr.Ended() {
		spans[s.Name()] = s
	}
	act, q := spans["activator_proxy"], spans["queue_proxy"]
	if act == nil || q == nil {
		t.Fatalf("spans %v, want activator_proxy and queue_proxy", spans)
	}
	for _, hop := range []struct {
		name           string
		trace, parent  string
		wantParentSpan string
	}{
		{"activator", act.SpanContext().TraceID().String(), act.Parent().SpanID().String(), tracingtest.CallerSpan},
		{"queue", q.SpanContext().TraceID().String(), q.Parent().SpanID().String(), act.SpanContext().SpanID().String()},
	} {
		if hop.trace != tracingtest.CallerTrace || hop.parent != hop.wantParentSpan {
			t.Errorf("%s span: trace %s parent %s, want %s / %s", hop.name, hop.trace, hop.parent, tracingtest.CallerTrace, hop.wantParentSpan)
		}
	}
	if got, want := <-userGot, tracingtest.TraceparentOf(q); got != want {
		t.Errorf("user container got traceparent %q, want %q (the queue's span)", got, want)
	}
}
