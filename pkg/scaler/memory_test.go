package scaler

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"k8s.io/utils/clock"

	pb "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
)

// TestStreamMemory measures what KEDA's StreamIsActive streams cost the
// activator that holds them: KEDA keeps one per ScaledObject, so with N
// idle revisions one activator holds N streams (benchmarks.md: "activator
// memory per idle revision"). The streams are opened, one IsActive call
// each as KEDA's polls make them, by a child process (this test binary
// again), so that only the server's side is in this process's heap and
// stacks. It reports and asserts nothing about the figure:
//
//	CSCLR_IDLE_STREAMS=10000 go test -run TestStreamMemory -v ./pkg/scaler/
func TestStreamMemory(t *testing.T) {
	if os.Getenv(streamClientEnv) != "" {
		t.Skip("the child's side runs in TestStreamMemoryClient")
	}
	n := 300
	if v := os.Getenv("CSCLR_IDLE_STREAMS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("CSCLR_IDLE_STREAMS=%q: want a positive number", v)
		}
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterExternalScalerServer(srv, New(clock.RealClock{}))
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	before, beforeStacks := memInUse()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	child := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestStreamMemoryClient$")
	child.Env = append(os.Environ(), streamClientEnv+"="+lis.Addr().String(), "CSCLR_IDLE_STREAMS="+strconv.Itoa(n))
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = child.Wait() }()
	lines := bufio.NewScanner(stdout)
	for lines.Scan() && lines.Text() != streamsOpen {
	}
	if lines.Err() != nil || lines.Text() != streamsOpen {
		t.Fatalf("the client process did not open its streams (%v)", lines.Err())
	}
	after, afterStacks := memInUse()
	per := float64(after-before) / float64(n)
	t.Logf("%d streams held: heap and stacks %.1f MiB → %.1f MiB, %.0f bytes (%.2f KiB) per stream, of which stacks %.0f bytes; %d goroutines",
		n, float64(before)/(1<<20), float64(after)/(1<<20), per, per/1024, float64(afterStacks-beforeStacks)/float64(n), runtime.NumGoroutine())
}

const (
	streamClientEnv = "CSCLR_STREAM_CLIENT_OF"
	streamsOpen     = "streams open"
)

// TestStreamMemoryClient is TestStreamMemory's child: it opens the streams,
// says so on stdout, and holds them until stdin closes.
func TestStreamMemoryClient(t *testing.T) {
	addr := os.Getenv(streamClientEnv)
	if addr == "" {
		t.Skip("runs as TestStreamMemory's child process")
	}
	n, _ := strconv.Atoi(os.Getenv("CSCLR_IDLE_STREAMS"))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pb.NewExternalScalerClient(conn)
	ctx := context.Background()
	for i := range n {
		ref := &pb.ScaledObjectRef{Namespace: "idle", Name: fmt.Sprintf("s%05d-00001", i), ScalerMetadata: map[string]string{MetaTarget: "70"}}
		if _, err := client.StreamIsActive(ctx, ref); err != nil {
			t.Fatal(err)
		}
		if _, err := client.IsActive(ctx, ref); err != nil { // also waits for the stream to be served
			t.Fatal(err)
		}
	}
	fmt.Println(streamsOpen)
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes it
}

// memInUse is the live heap and goroutine stacks, and the stacks alone,
// after two collections.
func memInUse() (total, stacks uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse, m.StackInuse
}
