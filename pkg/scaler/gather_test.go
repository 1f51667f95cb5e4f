package scaler

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"csclr.dev/csclr/pkg/queue"
	"csclr.dev/csclr/pkg/stats"
)

type fakeTargets struct {
	pods       map[Key][]string
	activators []string
}

func (f fakeTargets) ReadyPodIPs(rev Key) []string { return f.pods[rev] }
func (f fakeTargets) ActivatorIPs() []string       { return f.activators }

// reportServer serves whatever report it is given at path.
type reportServer struct {
	mu  sync.Mutex
	val any
}

func (r *reportServer) set(v any) { r.mu.Lock(); r.val = v; r.mu.Unlock() }

func (r *reportServer) start(t *testing.T, path string) int {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != path {
			http.NotFound(w, req)
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		_ = json.NewEncoder(w).Encode(r.val)
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	return p
}

func TestGathererTick(t *testing.T) {
	rev := Key{Namespace: "ns", Name: "hello-00001"}
	clk := clocktesting.NewFakeClock(time.Unix(1_000_000, 0))
	s := New(clk)
	spec := Spec{Revision: rev, Metric: MetricConcurrency, Target: 1, StableWindow: 10 * time.Second, PanicWindowPct: 10, PanicThresholdPct: 200}
	s.Decide(spec) // KEDA asked: the revision is known

	var pod, act reportServer
	g := &Gatherer{
		Scaler:        s,
		Targets:       fakeTargets{pods: map[Key][]string{rev: {"127.0.0.1"}}, activators: []string{"127.0.0.1"}},
		Client:        &http.Client{Timeout: time.Second},
		Clock:         clk,
		Interval:      time.Second,
		Parallel:      4,
		PodPort:       pod.start(t, queue.StatsPath),
		ActivatorPort: act.start(t, ActivatorStatsPath),
		OnError:       func(err error) { t.Errorf("scrape failed: %v", err) },
	}
	other := stats.Report{Revision: "ns/other", Pod: "act-1", StartUnix: 5, InFlight: 100, ConcurrencySeconds: 1e6}

	pod.set(stats.Report{Revision: "ns/hello-00001", Pod: "p", StartUnix: 10, InFlight: 2, ConcurrencySeconds: 50})
	act.set([]stats.Report{{Revision: "ns/hello-00001", Pod: "act-1", StartUnix: 5, InFlight: 1, ConcurrencySeconds: 7}, other})
	g.Tick(context.Background()) // first sight: 2 + 1 in flight

	clk.Step(time.Second)
	pod.set(stats.Report{Revision: "ns/hello-00001", Pod: "p", StartUnix: 10, InFlight: 4, ConcurrencySeconds: 54})
	act.set([]stats.Report{{Revision: "ns/hello-00001", Pod: "act-1", StartUnix: 5, InFlight: 0, ConcurrencySeconds: 8}, other})
	g.Tick(context.Background()) // 4 + 1 over the second

	d := s.Decide(spec)
	if d.Stable != 4 { // (3 + 5) / 2 seconds
		t.Errorf("stable average = %v, want 4", d.Stable)
	}
	if d.Panic != 5 {
		t.Errorf("panic average = %v, want 5", d.Panic)
	}
	if !s.Active(spec) {
		t.Error("Active = false, want true")
	}
	if _, known := s.revs[Key{Namespace: "ns", Name: "other"}]; known {
		t.Error("an activator report made an unknown revision known; only KEDA and cold requests should")
	}
}

func TestGathererRunTicks(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1_000_000, 0))
	s := New(clk)
	rev := Key{Namespace: "ns", Name: "r"}
	s.ColdRequest(rev)
	called := make(chan struct{}, 10)
	g := &Gatherer{Scaler: s, Targets: targetsFunc(func() { called <- struct{}{} }), Client: http.DefaultClient, Clock: clk, Interval: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { g.Run(ctx); close(done) }()
	for !clk.HasWaiters() {
		time.Sleep(time.Millisecond)
	}
	clk.Step(time.Second)
	select {
	case <-called:
	case <-time.After(5 * time.Second):
		t.Fatal("no gathering round after one interval")
	}
	cancel()
	<-done
}

type targetsFunc func()

func (f targetsFunc) ReadyPodIPs(Key) []string { return nil }
func (f targetsFunc) ActivatorIPs() []string   { f(); return nil }
