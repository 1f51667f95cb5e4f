package activator

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestThrottlerCapacityAndFIFO(t *testing.T) {
	th := newThrottler(time.Now, 10)
	th.setPods([]string{"a", "b"}, 1)
	ctx := context.Background()
	p1, w1, _ := th.acquire(ctx, time.Second, false, nil)
	p2, w2, _ := th.acquire(ctx, time.Second, false, nil)
	if w1 || w2 || p1 == p2 {
		t.Fatalf("two free pods: got %v/%v waited %v/%v; want both at once, on different pods", p1.addr, p2.addr, w1, w2)
	}
	// Both pods full: the next two wait, in order.
	got := make(chan string, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, waited, err := th.acquire(ctx, 5*time.Second, false, nil)
			if err != nil || !waited {
				t.Errorf("waiter %d: err %v waited %v", i, err, waited)
				return
			}
			got <- p.addr
			th.release(p)
		}()
		for { // make the arrival order certain
			th.mu.Lock()
			n := len(th.waiters)
			th.mu.Unlock()
			if n == i+1 {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	th.release(p1)
	if a := <-got; a != p1.addr {
		t.Errorf("first waiter got %s, want the freed %s", a, p1.addr)
	}
	th.release(p2)
	wg.Wait()
	if inFlight, requests, _, _ := th.held(); inFlight != 0 || requests != 2 {
		t.Errorf("held() = %d in flight, %d requests; want 0, 2", inFlight, requests)
	}
}

func TestThrottlerQueueFullAndTimeout(t *testing.T) {
	th := newThrottler(time.Now, 1)
	colds := 0
	cold := func() { colds++ }
	done := make(chan error, 1)
	go func() {
		_, _, err := th.acquire(context.Background(), 300*time.Millisecond, false, cold)
		done <- err
	}()
	for {
		th.mu.Lock()
		n := len(th.waiters)
		th.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if _, _, err := th.acquire(context.Background(), time.Second, false, cold); !errors.Is(err, errQueueFull) {
		t.Errorf("second request with depth 1: err = %v, want errQueueFull", err)
	}
	if err := <-done; !errors.Is(err, errNoPodYet) {
		t.Errorf("held request after its bound: err = %v, want errNoPodYet", err)
	}
	if colds != 1 {
		t.Errorf("cold signalled %d times, want 1", colds)
	}
	if !th.idle() {
		t.Error("throttler not idle after everything left")
	}
}

func TestThrottlerNewPodReleasesWaiters(t *testing.T) {
	th := newThrottler(time.Now, 10)
	results := make(chan string, 3)
	for range 3 {
		go func() {
			p, _, err := th.acquire(context.Background(), 5*time.Second, false, nil)
			if err != nil {
				results <- err.Error()
				return
			}
			results <- p.addr
		}()
	}
	for {
		th.mu.Lock()
		n := len(th.waiters)
		th.mu.Unlock()
		if n == 3 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	th.setPods([]string{"a"}, 2) // two slots: two go, one still waits
	for range 2 {
		if a := <-results; a != "a" {
			t.Fatalf("got %q, want pod a", a)
		}
	}
	th.setPods([]string{"a", "b"}, 2)
	if a := <-results; a != "b" {
		t.Fatalf("got %q, want pod b", a)
	}
}

func TestThrottlerCancelledWaiterLeavesNoSlotTaken(t *testing.T) {
	th := newThrottler(time.Now, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, _, err := th.acquire(ctx, time.Minute, false, nil); done <- err }()
	for {
		th.mu.Lock()
		n := len(th.waiters)
		th.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	th.setPods([]string{"a"}, 1)
	if p, waited, err := th.acquire(context.Background(), time.Second, false, nil); err != nil || waited || p.addr != "a" {
		t.Fatalf("after a cancelled waiter the slot should be free: %v %v %v", p, waited, err)
	}
}
