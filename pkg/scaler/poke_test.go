package scaler

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	pb "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
)

// TestPokeReachesPeerStream: a cold request at activator A wakes the KEDA
// stream held by activator B.
func TestPokeReachesPeerStream(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1_000_000, 0))
	a, b := New(clk), New(clk)
	peer := httptest.NewServer(PokeHandler(b))
	defer peer.Close()
	host, port, _ := net.SplitHostPort(peer.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	dead := "192.0.2.1" // TEST-NET: never answers; must not hold anything up

	sig := &Signaller{Scaler: a, Peers: func() []string { return []string{"10.9.9.9", dead, host} }, Self: "10.9.9.9",
		Port: p, Client: &http.Client{Timeout: 200 * time.Millisecond}, Clock: clk, Every: time.Second, Parallel: 8}

	client := startGRPC(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rev := Key{Namespace: "ns", Name: "hello-00001"}
	stream, err := client.StreamIsActive(ctx, &pb.ScaledObjectRef{Namespace: rev.Namespace, Name: rev.Name})
	if err != nil {
		t.Fatalf("StreamIsActive: %v", err)
	}
	for {
		b.mu.Lock()
		r := b.revs[rev]
		ok := r != nil && len(r.streams) == 1
		b.mu.Unlock()
		if ok {
			break
		}
		time.Sleep(time.Millisecond)
	}

	start := time.Now()
	sig.ColdRequest(rev)
	if took := time.Since(start); took > 10*time.Millisecond {
		t.Errorf("ColdRequest took %v; it must not wait for peers", took)
	}
	resp, err := stream.Recv()
	if err != nil || !resp.Result {
		t.Fatalf("peer stream got %v, %v; want true", resp, err)
	}
	t.Logf("cold request at A → B's KEDA stream: %v", time.Since(start))
	if !a.Active(Spec{Revision: rev, Metric: MetricConcurrency, Target: 1, StableWindow: time.Minute, PanicWindowPct: 10, PanicThresholdPct: 200}) {
		t.Error("the local scaler did not record the cold request")
	}
}

func TestPokeHandlerRejects(t *testing.T) {
	h := PokeHandler(New(clocktesting.NewFakeClock(time.Now())))
	for _, tc := range []struct {
		method, url string
		want        int
	}{
		{http.MethodGet, "/poke?revision=ns/r", http.StatusMethodNotAllowed},
		{http.MethodPost, "/poke?revision=r", http.StatusBadRequest},
		{http.MethodPost, "/poke?revision=ns/r", http.StatusNoContent},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.url, nil))
		if w.Code != tc.want {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.url, w.Code, tc.want)
		}
	}
}
