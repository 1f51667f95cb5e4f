package queue

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
)

// startGRPCUser serves the standard gRPC health service over h2c.
func startGRPCUser(t *testing.T) (int, *health.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return ln.Addr().(*net.TCPAddr).Port, hs
}

// TestGRPCThroughQueue: unary and server-streaming gRPC (trailers, TE,
// HTTP/2 end to end) pass through the queue.
func TestGRPCThroughQueue(t *testing.T) {
	port, hs := startGRPCUser(t)
	url, _ := startQueue(t, testConfig(port))

	conn, err := grpc.NewClient(strings.TrimPrefix(url, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("unary Check through the queue: %v %v", resp, err)
	}
	if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "unknown"}); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Fatalf("Check of an unknown service: %v, want the NotFound status from the trailers", err)
	}

	watch, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "db"})
	if err != nil {
		t.Fatal(err)
	}
	hs.SetServingStatus("db", healthpb.HealthCheckResponse_NOT_SERVING)
	// The stream first says SERVICE_UNKNOWN, unless the update won the race.
	for range 2 {
		got, err := watch.Recv()
		if err != nil {
			t.Fatalf("Watch stream through the queue: %v", err)
		}
		if got.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING {
			return
		}
	}
	t.Fatal("Watch stream never delivered the NOT_SERVING update")
}

func TestGRPCReadinessProbe(t *testing.T) {
	port, hs := startGRPCUser(t)
	p, err := NewProber(&corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{}}}, port, RealClock{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.check(context.Background()); err != nil {
		t.Fatalf("gRPC probe of a serving server: %v", err)
	}
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	if err := p.check(context.Background()); err == nil {
		t.Fatal("gRPC probe of a NOT_SERVING server succeeded")
	}
}
