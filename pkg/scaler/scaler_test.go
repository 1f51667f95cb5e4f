package scaler

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"csclr.dev/csclr/pkg/stats"
)

func TestRevisionsForgetsIdle(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1_000_000, 0))
	s := New(clk)
	s.ColdRequest(Key{Namespace: "ns", Name: "a"})
	clk.Step(forgetAfter / 2)
	s.ColdRequest(Key{Namespace: "ns", Name: "b"})
	clk.Step(forgetAfter/2 + time.Second)
	got := s.Revisions()
	if len(got) != 1 || got[0].Name != "b" {
		t.Errorf("Revisions() = %v, want only b (a idle for longer than %v)", got, forgetAfter)
	}
}

// TestObserveRestartAndMissedRound: a pod that misses a round keeps its
// baseline; a pod that restarts is counted from zero, never negative.
func TestObserveRestartAndMissedRound(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1_000_000, 0))
	s := New(clk)
	rev := Key{Namespace: "ns", Name: "r"}
	spec := Spec{Revision: rev, Metric: MetricRPS, Target: 1, StableWindow: 10 * time.Second, PanicWindowPct: 10, PanicThresholdPct: 200}
	s.Decide(spec)
	obs := func(rep *stats.Report) {
		o := observation{readyPods: 1, pods: map[string]stats.Report{}}
		if rep != nil {
			o.pods["10.0.0.1"] = *rep
		}
		s.Observe(rev, o)
	}
	obs(&stats.Report{StartUnix: 1, Requests: 100})
	clk.Step(time.Second)
	obs(nil) // missed
	clk.Step(time.Second)
	obs(&stats.Report{StartUnix: 1, Requests: 120}) // 20 over 2 s
	if d := s.Decide(spec); d.Panic != 10 {
		t.Errorf("rate after a missed round = %v, want 10/s", d.Panic)
	}
	clk.Step(time.Second)
	obs(&stats.Report{StartUnix: clk.Now().Unix() - 1, Requests: 3}) // restarted a second ago
	if d := s.Decide(spec); d.Panic != 3 {
		t.Errorf("rate after a restart = %v, want 3/s", d.Panic)
	}
}

func TestSignallerCoalescesPeerPokes(t *testing.T) {
	var pokes atomic.Int32
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { pokes.Add(1) }))
	defer peer.Close()
	host, port, _ := net.SplitHostPort(peer.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	clk := clocktesting.NewFakeClock(time.Unix(1_000_000, 0))
	sig := &Signaller{Scaler: New(clk), Peers: func() []string { return []string{host} }, Port: p,
		Client: &http.Client{Timeout: time.Second}, Clock: clk, Every: time.Second, Parallel: 4}
	rev := Key{Namespace: "ns", Name: "r"}
	for range 100 {
		sig.ColdRequest(rev)
	}
	clk.Step(time.Second)
	sig.ColdRequest(rev)
	deadline := time.Now().Add(5 * time.Second)
	for pokes.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if n := pokes.Load(); n != 2 {
		t.Errorf("peer poked %d times, want 2 (one per revision per second)", n)
	}
}
