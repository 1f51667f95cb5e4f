package activator

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestSweepKeepsAStateARequestFound: Sweep may run between a request
// finding its revision's state and queuing on it; the state must stay, or
// the request waits on a throttler that no pod event reaches any more, and
// gets a 504 although a pod became ready.
func TestSweepKeepsAStateARequestFound(t *testing.T) {
	f := newFixture(t, startPod(t, nil), fakeRevisions{rev1: {Timeout: 3 * time.Second}}, 10)
	var once sync.Once
	f.pods.mu.Lock()
	f.pods.onList = func() { once.Do(f.bal.Sweep) } // the creation's sync: the state is in the map, the request not queued yet
	f.pods.mu.Unlock()
	done := make(chan int, 1)
	go func() {
		resp, _ := f.get(t, "hello.ns.example.com")
		done <- resp.StatusCode
	}()
	<-f.colds // queued
	f.pods.set(rev1, PodInfo{IP: "127.0.0.1", Ready: true})
	f.bal.PodsChanged(rev1)
	select {
	case code := <-done:
		if code != http.StatusOK {
			t.Errorf("status %d, want 200 once the pod is ready", code)
		}
	case <-time.After(time.Second):
		t.Fatal("the request still waits after its pod became ready: its state was swept")
	}
}

// TestSweepWhileServing (run it with -race): requests, pod changes and
// sweeps at once; every request is answered.
func TestSweepWhileServing(t *testing.T) {
	f := newFixture(t, startPod(t, nil), fakeRevisions{rev1: {Timeout: 5 * time.Second}}, 1000)
	f.pods.set(rev1, PodInfo{IP: "127.0.0.1", Ready: true})
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			f.bal.Sweep()
			f.bal.PodsChanged(rev1)
			time.Sleep(100 * time.Microsecond)
		}
	}()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				if resp, body := f.get(t, "hello.ns.example.com"); resp.StatusCode != http.StatusOK {
					t.Errorf("status %d %q", resp.StatusCode, body)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	bg.Wait()
}

// TestSweep: what Sweep keeps. A revision with pods keeps its state,
// however rare its requests, so that a warm request never waits on the API
// server's lookup; a revision without pods keeps it while it had a request
// since the last Sweep; otherwise memory follows the traffic.
func TestSweep(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pods      []PodInfo
		sweeps    int // after the request
		wantState bool
	}{
		{name: "pods, idle for many sweeps", pods: []PodInfo{{IP: "127.0.0.1", Ready: true}}, sweeps: 5, wantState: true},
		{name: "pods not ready yet", pods: []PodInfo{{IP: "127.0.0.2"}}, sweeps: 5, wantState: true},
		{name: "no pods, a request since the last sweep", sweeps: 1, wantState: true},
		{name: "no pods, no request for a whole sweep period", sweeps: 2, wantState: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			revs := &countingLookups{infos: fakeRevisions{rev1: {Timeout: 50 * time.Millisecond}}}
			f := newFixture(t, startPod(t, nil), revs, 10)
			f.pods.set(rev1, tc.pods...)
			f.get(t, "hello.ns.example.com") // a 504 without a ready pod
			for range tc.sweeps {
				f.bal.Sweep()
			}
			if got := len(f.bal.Reports("act")) == 1; got != tc.wantState {
				t.Fatalf("state kept = %v after %d sweeps, want %v", got, tc.sweeps, tc.wantState)
			}
			if !tc.wantState {
				return
			}
			f.get(t, "hello.ns.example.com")
			if n := revs.asks.Load(); n != 1 {
				t.Errorf("the revision was looked up %d times, want once", n)
			}
		})
	}
}
