package queue

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBreakerQueueBound(t *testing.T) {
	b := NewBreaker(2, 3)
	ctx := context.Background()
	for i := range 2 {
		if err := b.Acquire(ctx); err != nil {
			t.Fatalf("Acquire %d with free slots: %v", i, err)
		}
	}
	waitCtx, cancel := context.WithCancel(ctx)
	var waiters sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		waiters.Add(1)
		go func() { defer waiters.Done(); errs <- b.Acquire(waitCtx) }()
	}
	waitFor(t, func() bool { return b.Waiting() == 3 }, "3 requests queued")

	if err := b.Acquire(ctx); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Acquire with 2 in the container and 3 queued = %v, want ErrQueueFull", err)
	}

	b.Release() // one waiter gets the slot
	waitFor(t, func() bool { return b.Waiting() == 2 && b.InContainer() == 2 }, "a waiter moved into the container")
	cancel() // the others give up
	waiters.Wait()
	close(errs)
	var got, abandoned int
	for err := range errs {
		switch {
		case err == nil:
			got++
		case errors.Is(err, context.Canceled):
			abandoned++
		default:
			t.Errorf("unexpected Acquire error %v", err)
		}
	}
	if got != 1 || abandoned != 2 {
		t.Fatalf("waiters: %d got a slot, %d gave up; want 1 and 2", got, abandoned)
	}
	if b.Waiting() != 0 || b.InContainer() != 2 {
		t.Fatalf("after cancel: waiting=%d in container=%d, want 0 and 2", b.Waiting(), b.InContainer())
	}
}

// TestConcurrencyLimitThroughProxy: with containerConcurrency 2 the user
// container never sees more than 2 requests at once, and requests beyond
// the queue get 503 with Retry-After.
func TestConcurrencyLimitThroughProxy(t *testing.T) {
	var now, peak atomic.Int64
	release := make(chan struct{})
	user := startUser(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := now.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		now.Add(-1)
	}))
	cfg := testConfig(user)
	cfg.ContainerConcurrency, cfg.QueueDepth = 2, 4
	url, parts := startQueue(t, cfg)

	results := make(chan int, 6)
	for range 6 {
		go func() {
			code, _, _ := get(t, url, nil)
			results <- code
		}()
	}
	waitFor(t, func() bool { return now.Load() == 2 && parts.Breaker.Waiting() == 4 }, "2 in the container, 4 queued")

	code, _, h := get(t, url, nil)
	if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Fatalf("request beyond the queue: %d Retry-After=%q, want 503 with Retry-After", code, h.Get("Retry-After"))
	}
	close(release)
	for range 6 {
		if code := <-results; code != http.StatusOK {
			t.Errorf("queued request answered %d, want 200", code)
		}
	}
	if p := peak.Load(); p != 2 {
		t.Fatalf("peak concurrency in the user container = %d, want 2", p)
	}
	if r := parts.Report.Report(); r.InFlight != 0 || r.Requests != 7 {
		t.Fatalf("report after the burst: %+v, want InFlight 0 and Requests 7", r)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
