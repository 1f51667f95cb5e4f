package activator

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Errors of acquire, turned into responses by the hold handler.
var (
	errQueueFull = errors.New("the revision's request queue is full")
	errNoPodYet  = errors.New("no pod of the revision became ready in time")
)

// pod is one ready pod of a revision as this activator sees it.
type pod struct {
	addr     string // ip:port of the pod's queue sidecar
	inFlight int    // requests this activator has on it (under throttler.mu)
}

// throttler is one revision's pods and waiting requests. A request takes a
// slot on the least busy pod that has one free; without one it waits, in
// arrival order, until a slot frees or a pod becomes ready. Capacity per pod
// is the revision's containerConcurrency divided among the activator
// replicas (0 = unlimited); the queue sidecar enforces the hard limit, this
// only keeps the activator from piling requests onto one pod.
type throttler struct {
	now func() time.Time

	mu       sync.Mutex
	pods     []*pod
	capacity int // per pod; 0 = unlimited
	next     int // where the least-busy scan starts, to spread equal pods
	waiters  []chan *pod
	depth    int // bound on len(waiters)

	// held-request accounting for the scaler (stats.Report)
	start      time.Time
	requests   uint64  // requests that had to wait, each once even if its retry waits again
	heldSecs   float64 // integral of len(waiters) over time
	lastChange time.Time
}

func newThrottler(now func() time.Time, depth int) *throttler {
	t := now()
	return &throttler{now: now, depth: depth, start: t, lastChange: t}
}

// acquire returns a pod with a free slot, waiting for one if needed. A
// request that waits is counted in requests unless counted says an earlier
// wait of the same request (before a retry) already counted it. cold is
// called (outside the lock) when the request has to wait because the
// revision has no ready pod at all. It waits at most maxWait and returns
// whether it waited.
func (t *throttler) acquire(ctx context.Context, maxWait time.Duration, counted bool, cold func()) (p *pod, waited bool, err error) {
	t.mu.Lock()
	if p := t.pickLocked(); p != nil {
		t.mu.Unlock()
		return p, false, nil
	}
	if len(t.waiters) >= t.depth {
		t.mu.Unlock()
		return nil, false, errQueueFull
	}
	w := make(chan *pod, 1)
	t.advanceLocked()
	t.waiters = append(t.waiters, w)
	if !counted {
		t.requests++
	}
	noPods := len(t.pods) == 0
	t.mu.Unlock()

	if noPods && cold != nil {
		cold()
	}
	ctx, cancel := context.WithTimeout(ctx, maxWait)
	defer cancel()
	select {
	case p := <-w:
		return p, true, nil
	case <-ctx.Done():
		t.mu.Lock()
		removed := t.removeWaiterLocked(w)
		t.mu.Unlock()
		if !removed {
			// A pod was handed over just as we gave up: give it back.
			t.release(<-w)
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, true, errNoPodYet
		}
		return nil, true, ctx.Err()
	}
}

// release frees the slot p held and hands it to the oldest waiter.
func (t *throttler) release(p *pod) {
	t.mu.Lock()
	p.inFlight--
	if t.hasPodLocked(p) && t.fitsLocked(p) {
		t.handLocked(p)
	}
	t.mu.Unlock()
}

// setPods replaces the ready pods (by address), keeping the slots in use,
// and hands every new free slot to waiters.
func (t *throttler) setPods(addrs []string, capacity int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := make(map[string]*pod, len(t.pods))
	for _, p := range t.pods {
		old[p.addr] = p
	}
	pods := make([]*pod, 0, len(addrs))
	for _, a := range addrs {
		if p, ok := old[a]; ok {
			pods = append(pods, p)
		} else {
			pods = append(pods, &pod{addr: a})
		}
	}
	t.pods, t.capacity = pods, capacity
	for len(t.waiters) > 0 {
		p := t.pickLocked()
		if p == nil {
			return
		}
		p.inFlight-- // pickLocked took the slot; handLocked takes it again
		t.handLocked(p)
	}
}

// pickLocked takes a slot on the least busy pod with one free.
func (t *throttler) pickLocked() *pod {
	var best *pod
	n := len(t.pods)
	for i := range n {
		p := t.pods[(t.next+i)%n]
		if t.fitsLocked(p) && (best == nil || p.inFlight < best.inFlight) {
			best = p
			if p.inFlight == 0 {
				break
			}
		}
	}
	if best != nil {
		best.inFlight++
		t.next++
	}
	return best
}

func (t *throttler) fitsLocked(p *pod) bool { return t.capacity == 0 || p.inFlight < t.capacity }

func (t *throttler) hasPodLocked(p *pod) bool {
	for _, q := range t.pods {
		if q == p {
			return true
		}
	}
	return false
}

// handLocked gives a slot on p to the oldest waiter, if any.
func (t *throttler) handLocked(p *pod) {
	if len(t.waiters) == 0 {
		return
	}
	t.advanceLocked()
	w := t.waiters[0]
	t.waiters[0] = nil
	t.waiters = t.waiters[1:]
	p.inFlight++
	w <- p
}

func (t *throttler) removeWaiterLocked(w chan *pod) bool {
	for i, x := range t.waiters {
		if x == w {
			t.advanceLocked()
			t.waiters = append(t.waiters[:i], t.waiters[i+1:]...)
			return true
		}
	}
	return false
}

// advanceLocked adds the held requests' area since the last change.
func (t *throttler) advanceLocked() {
	now := t.now()
	if d := now.Sub(t.lastChange); d > 0 {
		t.heldSecs += float64(len(t.waiters)) * d.Seconds()
		t.lastChange = now
	}
}

// held returns the accounting for the scaler.
func (t *throttler) held() (inFlight int64, requests uint64, heldSecs float64, start time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.advanceLocked()
	return int64(len(t.waiters)), t.requests, t.heldSecs, t.start
}

// idle reports whether nothing uses the throttler (it may be dropped).
func (t *throttler) idle() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.waiters) > 0 {
		return false
	}
	for _, p := range t.pods {
		if p.inFlight > 0 {
			return false
		}
	}
	return true
}

// drop removes p from the usable pods until the next setPods lists it.
func (t *throttler) drop(p *pod) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, q := range t.pods {
		if q == p {
			t.pods = append(t.pods[:i:i], t.pods[i+1:]...)
			return
		}
	}
}
