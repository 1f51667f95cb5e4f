package scaler

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	clocktesting "k8s.io/utils/clock/testing"

	pb "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"csclr.dev/csclr/pkg/stats"
)

// startGRPC serves s over an in-memory connection and returns KEDA's client.
func startGRPC(t *testing.T, s *Scaler) pb.ExternalScalerClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	pb.RegisterExternalScalerServer(srv, s)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dialing the scaler: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewExternalScalerClient(conn)
}

func TestGRPCMetrics(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1_000_000, 0))
	s := New(clk)
	client := startGRPC(t, s)
	ctx := context.Background()
	ref := &pb.ScaledObjectRef{Namespace: "ns", Name: "hello-00001", ScalerMetadata: map[string]string{MetaTarget: "10"}}
	rev := Key{Namespace: "ns", Name: "hello-00001"}

	spec, err := client.GetMetricSpec(ctx, ref)
	if err != nil {
		t.Fatalf("GetMetricSpec: %v", err)
	}
	if len(spec.MetricSpecs) != 1 || spec.MetricSpecs[0].MetricName != MetricConcurrency || int64(spec.MetricSpecs[0].TargetSizeFloat*1000) != 10_000 {
		t.Fatalf("GetMetricSpec = %v, want one %q metric with target 10", spec, MetricConcurrency)
	}
	if a, err := client.IsActive(ctx, ref); err != nil || a.Result {
		t.Fatalf("IsActive before any load = %v, %v; want false", a, err)
	}

	// Two pods, each reporting 12.5 average concurrency over the second.
	s.Observe(rev, observation{readyPods: 2, pods: map[string]stats.Report{
		"10.0.0.1": {StartUnix: 1, ConcurrencySeconds: 100}, "10.0.0.2": {StartUnix: 1, ConcurrencySeconds: 100}}})
	clk.Step(time.Second)
	s.Observe(rev, observation{readyPods: 2, pods: map[string]stats.Report{
		"10.0.0.1": {StartUnix: 1, ConcurrencySeconds: 112.5}, "10.0.0.2": {StartUnix: 1, ConcurrencySeconds: 112.5}}})

	m, err := client.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: ref, MetricName: MetricConcurrency})
	if err != nil {
		t.Fatalf("GetMetrics: %v", err)
	}
	// Window: 0 (first sight, nothing in flight) then 25 → average 12.5 → 2 pods.
	if got := int64(m.MetricValues[0].MetricValueFloat * 1000); got <= 10_000 || got > 20_000 {
		t.Errorf("GetMetrics value = %d milli, want in (10000, 20000] (2 pods of target 10)", got)
	}
	if a, err := client.IsActive(ctx, ref); err != nil || !a.Result {
		t.Errorf("IsActive under load = %v, %v; want true", a, err)
	}

	if _, err := client.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: &pb.ScaledObjectRef{Namespace: "ns", Name: "x", ScalerMetadata: map[string]string{MetaMetric: "cpu"}}}); err == nil {
		t.Error("GetMetrics with a bad metric: want an error")
	}
}

// TestStreamPushesAtOnce checks that a cold request reaches KEDA's stream
// within a few milliseconds, with no tick involved (the fake clock never
// moves).
func TestStreamPushesAtOnce(t *testing.T) {
	s := New(clocktesting.NewFakeClock(time.Unix(1_000_000, 0)))
	client := startGRPC(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ref := &pb.ScaledObjectRef{Namespace: "ns", Name: "hello-00001"}
	stream, err := client.StreamIsActive(ctx, ref)
	if err != nil {
		t.Fatalf("StreamIsActive: %v", err)
	}
	// Wait until the server has registered the stream.
	for deadline := time.Now().Add(5 * time.Second); ; {
		s.mu.Lock()
		n := 0
		if r := s.revs[Key{Namespace: "ns", Name: "hello-00001"}]; r != nil {
			n = len(r.streams)
		}
		s.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stream was never registered")
		}
		time.Sleep(time.Millisecond)
	}

	// The best of three pushes must take a few ms (no tick is involved; the
	// slack is for -race on a shared machine).
	best := time.Hour
	for i := range 3 {
		start := time.Now()
		s.ColdRequest(Key{Namespace: "ns", Name: "hello-00001"})
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("push %d: Recv: %v", i, err)
		}
		if !resp.Result {
			t.Fatalf("push %d: got result false, want true", i)
		}
		took := time.Since(start)
		t.Logf("push %d: %v", i, took)
		best = min(best, took)
	}
	if best > 10*time.Millisecond {
		t.Errorf("cold request → stream push took at best %v, want a few ms", best)
	}
	// The scale signals are counted.
	if got := valueOf(t, s.metrics.pushes); got != 3 {
		t.Errorf("active pushes counted: %v, want 3", got)
	}
	if got := valueOf(t, s.metrics.coldSignals); got != 3 {
		t.Errorf("cold signals counted: %v, want 3", got)
	}
	if got := valueOf(t, s.metrics.streams); got != 1 {
		t.Errorf("open streams: %v, want 1", got)
	}

	// A burst of signals never blocks the signaller, whatever the stream does.
	done := make(chan struct{})
	go func() {
		for range 10_000 {
			s.ColdRequest(Key{Namespace: "ns", Name: "hello-00001"})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("ColdRequest blocked on a slow stream")
	}
}

func TestStreamSendsActiveOnOpen(t *testing.T) {
	s := New(clocktesting.NewFakeClock(time.Unix(1_000_000, 0)))
	s.ColdRequest(Key{Namespace: "ns", Name: "hello-00001"})
	client := startGRPC(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := client.StreamIsActive(ctx, &pb.ScaledObjectRef{Namespace: "ns", Name: "hello-00001"})
	if err != nil {
		t.Fatalf("StreamIsActive: %v", err)
	}
	if resp, err := stream.Recv(); err != nil || !resp.Result {
		t.Fatalf("first message = %v, %v; want true", resp, err)
	}
}

// valueOf reads a counter's or a gauge's value.
func valueOf(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	if out.Counter != nil {
		return out.Counter.GetValue()
	}
	return out.Gauge.GetValue()
}
