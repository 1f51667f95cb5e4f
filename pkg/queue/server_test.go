package queue

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

type runningQueue struct {
	serving, admin, metrics string // base URLs
	parts                   Parts
	stop                    context.CancelFunc // SIGTERM
	exited                  chan error
}

func runQueue(t *testing.T, user http.Handler, drainPeriod time.Duration) *runningQueue {
	t.Helper()
	cfg := testConfig(startUser(t, user))
	cfg.DrainPeriod = drainPeriod
	cfg.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}}
	var ls Listeners
	for _, l := range []*net.Listener{&ls.Serving, &ls.Admin, &ls.Metrics} {
		var err error
		if *l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	ctx, stop := context.WithCancel(context.Background())
	q := &runningQueue{
		serving: "http://" + ls.Serving.Addr().String(),
		admin:   "http://" + ls.Admin.Addr().String(),
		metrics: "http://" + ls.Metrics.Addr().String(),
		parts:   NewParts(cfg, discardLog()),
		stop:    stop,
		exited:  make(chan error, 1),
	}
	go func() { q.exited <- Serve(ctx, q.parts, ls) }()
	t.Cleanup(func() {
		stop()
		select {
		case <-q.exited:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after SIGTERM")
		}
	})
	waitFor(t, func() bool { return statusOf(q.admin+ReadyPath) == 200 }, "the queue to become ready")
	return q
}

// statusOf does a GET on a fresh connection; 0 means it could not connect.
func statusOf(url string) int {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func slowAndFast(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/slow" {
		time.Sleep(1500 * time.Millisecond)
	}
	io.WriteString(w, "done")
}

func TestDrainViaPreStop(t *testing.T) {
	q := runQueue(t, http.HandlerFunc(slowAndFast), time.Second)

	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get(q.serving + "/slow")
		if err != nil {
			slow <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- resp.Status + " " + string(b)
	}()
	waitFor(t, func() bool { return q.parts.Report.InFlight() == 1 }, "the slow request to arrive")

	drained := make(chan int, 1)
	go func() { drained <- statusOf(q.admin + DrainPath) }()
	waitFor(t, q.parts.Readiness.Draining, "the drain to start")
	drainStart := time.Now()

	if code := statusOf(q.admin + ReadyPath); code != http.StatusServiceUnavailable {
		t.Errorf("/ready while draining = %d, want 503", code)
	}
	req, _ := http.NewRequest(http.MethodGet, q.serving, nil)
	req.Header.Set(ProbeHeader, ProbeHeaderValue)
	if resp, err := http.DefaultTransport.RoundTrip(req); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("network probe while draining: %v %v, want 503", resp, err)
	}
	if code := statusOf(q.serving + "/"); code != http.StatusOK {
		t.Errorf("new request inside the drain period = %d, want 200 (endpoints may not be updated yet)", code)
	}

	time.Sleep(time.Until(drainStart.Add(1200 * time.Millisecond))) // past the drain period
	if code := statusOf(q.serving + "/"); code != 0 {
		t.Errorf("new request after the drain period = %d, want a refused connection", code)
	}
	if got := <-slow; got != "200 OK done" {
		t.Errorf("request in flight during the drain: %q, want 200 OK done", got)
	}
	if code := <-drained; code != http.StatusOK {
		t.Errorf("/drain answered %d, want 200 once drained", code)
	}
	select {
	case err := <-q.exited:
		t.Fatalf("Serve returned (%v) before SIGTERM", err)
	default:
	}
}

func TestDrainOnSIGTERM(t *testing.T) {
	q := runQueue(t, http.HandlerFunc(slowAndFast), 100*time.Millisecond)

	slow := make(chan int, 1)
	go func() { slow <- statusOf(q.serving + "/slow") }()
	waitFor(t, func() bool { return q.parts.Report.InFlight() == 1 }, "the slow request to arrive")

	start := time.Now()
	q.stop()
	if err := <-q.exited; err != nil {
		t.Fatalf("Serve after SIGTERM: %v", err)
	}
	q.exited <- nil // for the cleanup
	if code := <-slow; code != http.StatusOK {
		t.Fatalf("in-flight request at SIGTERM answered %d, want 200", code)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("exited %v after SIGTERM, before the drain period", d)
	}
}

func TestMetricsAndStatsEndpoints(t *testing.T) {
	q := runQueue(t, http.HandlerFunc(slowAndFast), 0)
	for range 3 {
		if code := statusOf(q.serving + "/"); code != 200 {
			t.Fatalf("request = %d", code)
		}
	}
	resp, err := http.Get(q.metrics + StatsPath)
	if err != nil {
		t.Fatal(err)
	}
	stats, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(stats), `"requests":3`) || !strings.Contains(string(stats), `"revision":"ns/hello-00001"`) {
		t.Errorf("/stats = %s, want 3 requests of ns/hello-00001", stats)
	}
	resp, err = http.Get(q.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`csclr_queue_requests_total{code_class="2xx",configuration="",namespace="ns",revision="hello-00001",service=""} 3`,
		`csclr_queue_request_duration_seconds_count{`,
		`csclr_queue_in_flight_requests{`,
		`csclr_queue_depth{`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
