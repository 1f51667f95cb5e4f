package datapath

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestClosedLoopAndFixedRate(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusBadGateway)
		}
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	c := NewClient(4)
	ctx := context.Background()

	cl := ClosedLoop(ctx, c, srv.URL, 4, 200*time.Millisecond)
	if cl.OK == 0 || cl.Errors != 0 || cl.RPS() <= 0 {
		t.Errorf("closed loop: %+v", cl)
	}
	if bad := ClosedLoop(ctx, c, srv.URL+"/fail", 2, 50*time.Millisecond); bad.OK != 0 || bad.Errors == 0 {
		t.Errorf("closed loop on a failing path: %+v, want only errors", bad)
	}

	// 200 rps for 250 ms is 50 requests, all answered (a generous bound
	// for a shared machine).
	f := FixedRate(ctx, c, srv.URL, 200, 4, 250*time.Millisecond)
	if got := len(f.Latencies) + f.Dropped + f.Errors; got != 50 {
		t.Errorf("fixed rate: %d requests accounted for, want 50 (%+v)", got, f)
	}
	if len(f.Latencies) < 40 || f.Elapsed < 240*time.Millisecond {
		t.Errorf("fixed rate: %d answered in %v", len(f.Latencies), f.Elapsed)
	}
}

func TestDispatchCountsDropped(t *testing.T) {
	due := make(chan struct{}, 1) // nobody reads: the first fits, the rest drop
	if got := dispatch(context.Background(), due, time.Now(), 1000, 10*time.Millisecond); got != 9 {
		t.Errorf("dropped %d, want 9 of 10", got)
	}
}
