package activator

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"k8s.io/utils/clock"

	pb "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"

	"csclr.dev/csclr/pkg/scaler"
)

// TestColdRequestReachesKEDAStream measures benchmarks.md's "scale-from-zero
// signal": from a request entering the activator for a revision at zero to
// KEDA's StreamIsActive receiving "true" (goal ≤ 10 ms).
func TestColdRequestReachesKEDAStream(t *testing.T) {
	sc := scaler.New(clock.RealClock{})
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	pb.RegisterExternalScalerServer(srv, sc)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := pb.NewExternalScalerClient(conn).StreamIsActive(ctx, &pb.ScaledObjectRef{Namespace: rev1.Namespace, Name: rev1.Name})
	if err != nil {
		t.Fatal(err)
	}
	// Let the stream register before the request (KEDA opens it long before).
	if sc.Active(scaler.Spec{Revision: rev1, Metric: scaler.MetricConcurrency, Target: 1, StableWindow: time.Minute, PanicWindowPct: 10, PanicThresholdPct: 200}) {
		t.Fatal("active before any request")
	}
	time.Sleep(50 * time.Millisecond)

	f := newFixture(t, startPod(t, nil), fakeRevisions{rev1: {Timeout: 500 * time.Millisecond}}, 10)
	sig := &scaler.Signaller{Scaler: sc, Peers: func() []string { return nil }, Client: http.DefaultClient, Clock: clock.RealClock{}, Every: time.Second}
	f.chain.Cold = sig.ColdRequest
	f.front.Config.Handler = NewHandler(f.chain)

	// Warm the client's connection (a 404), so that what is measured is the
	// activator, not the TCP handshake of the test client.
	client := &http.Client{}
	if r, err := client.Do(mustReq(f.front.URL, "unknown.example.com")); err == nil {
		r.Body.Close()
	}
	start := time.Now()
	go func() { _, _ = client.Do(mustReq(f.front.URL, "hello.ns.example.com")) }()
	resp, err := stream.Recv()
	took := time.Since(start)
	if err != nil || !resp.Result {
		t.Fatalf("stream: %v %v", resp, err)
	}
	t.Logf("cold request → KEDA stream \"active\": %v", took)
	if took > 100*time.Millisecond { // generous: -race on a shared 2-core machine; ~1 ms without -race
		t.Errorf("the scale-from-zero signal took %v, want a few ms", took)
	}
}
