package activator

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/utils/clock"
)

func TestBalancerSplitsCapacityAmongActivators(t *testing.T) {
	pods := &fakePods{}
	pods.set(rev1, PodInfo{IP: "10.0.0.1", Ready: true}, PodInfo{IP: "10.0.0.2", Ready: true}, PodInfo{IP: "10.0.0.3"})
	replicas := 2
	b := NewBalancer(BalancerConfig{Pods: pods, Revisions: fakeRevisions{rev1: {ContainerConcurrency: 5}},
		Replicas: func() int { return replicas }, QueueDepth: 10, Clock: clock.RealClock{}, Port: 8012})
	s := b.revision(rev1)
	check := func(wantCap int, wantAddrs ...string) {
		t.Helper()
		s.thr.mu.Lock()
		defer s.thr.mu.Unlock()
		var addrs []string
		for _, p := range s.thr.pods {
			addrs = append(addrs, p.addr)
		}
		if s.thr.capacity != wantCap || len(addrs) != len(wantAddrs) {
			t.Fatalf("capacity %d pods %v; want %d %v", s.thr.capacity, addrs, wantCap, wantAddrs)
		}
		for i := range addrs {
			if addrs[i] != wantAddrs[i] {
				t.Fatalf("pods %v, want %v", addrs, wantAddrs)
			}
		}
	}
	// 5 / 2 activators = 2 per pod; the unready pod (no prober) is not used.
	check(2, "10.0.0.1:8012", "10.0.0.2:8012")
	replicas = 9
	pods.set(rev1, PodInfo{IP: "10.0.0.2", Ready: true})
	b.Resync()
	check(1, "10.0.0.2:8012") // never below one slot per pod
}

// blockingPods holds the first RevisionPods call until released, so that a
// test can look at a revision's state between its creation and its sync.
type blockingPods struct {
	entered, release chan struct{}
	once             sync.Once
}

func (b *blockingPods) RevisionPods(Key) []PodInfo {
	b.once.Do(func() {
		close(b.entered)
		<-b.release
	})
	return nil
}

// Requests that find a revision's state while its first sync is still
// running wait up to the revision's timeout, not zero (which was an
// instant 504 for a cold revision's second request).
func TestBalancerNewRevisionWaitsItsTimeoutBeforeTheFirstSync(t *testing.T) {
	pods := &blockingPods{entered: make(chan struct{}), release: make(chan struct{})}
	b := NewBalancer(BalancerConfig{Pods: pods, Revisions: fakeRevisions{rev1: {Timeout: 7 * time.Second}},
		Replicas: func() int { return 1 }, QueueDepth: 10, Clock: clock.RealClock{}})
	done := make(chan struct{})
	go func() { defer close(done); b.revision(rev1) }()
	<-pods.entered
	if got := b.revision(rev1).timeouts().FirstByte; got != 7*time.Second {
		t.Errorf("the first-byte timeout before the first sync = %s, want the revision's 7s", got)
	}
	close(pods.release)
	<-done
}

// countingRevisions answers after failing `fails` times, and counts asks.
type countingRevisions struct {
	mu    sync.Mutex
	asks  int
	fails int
}

func (c *countingRevisions) Revision(Key) (RevisionInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asks++
	if c.asks <= c.fails {
		return RevisionInfo{}, false
	}
	return RevisionInfo{ContainerConcurrency: 1, Timeout: 9 * time.Second}, true
}

// A revision's spec never changes: once looked up, it is not asked again,
// however often its pods change; a failed lookup is retried in the
// background at the next sync, one at a time.
func TestBalancerLooksARevisionUpUntilItAnswers(t *testing.T) {
	revs := &countingRevisions{fails: 2}
	b := NewBalancer(BalancerConfig{Pods: &fakePods{}, Revisions: revs,
		Replicas: func() int { return 1 }, QueueDepth: 10, Clock: clock.RealClock{}})
	s := b.revision(rev1) // the creation's lookup fails; its sync asks again in the background
	if got := s.timeouts().FirstByte; got != defaultTimeout && got != 9*time.Second {
		t.Errorf("first-byte timeout = %s, want the default %s until the revision is known", got, defaultTimeout)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.timeouts().FirstByte != 9*time.Second && time.Now().Before(deadline) {
		b.PodsChanged(rev1)
		time.Sleep(time.Millisecond)
	}
	if got := s.timeouts().FirstByte; got != 9*time.Second {
		t.Fatalf("first-byte timeout = %s, want the revision's 9s once a lookup answered", got)
	}
	for !s.asking.CompareAndSwap(false, false) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // the successful lookup's own sync
	}
	for range 5 {
		b.PodsChanged(rev1)
	}
	b.Resync()
	time.Sleep(10 * time.Millisecond)
	revs.mu.Lock()
	defer revs.mu.Unlock()
	if revs.asks != 3 {
		t.Errorf("the revision was looked up %d times, want 3 (two failures, then one answer)", revs.asks)
	}
}

// blockingRevisions never answers until released, as an API server that
// hangs.
type blockingRevisions struct {
	asks    atomic.Int32
	release chan struct{}
}

func (r *blockingRevisions) Revision(Key) (RevisionInfo, bool) {
	if r.asks.Add(1) == 1 {
		return RevisionInfo{}, false // the creation's lookup
	}
	<-r.release
	return RevisionInfo{Timeout: 7 * time.Second}, true
}

// Pod and EndpointSlice events for a revision not looked up yet do not
// wait for the lookup, and start at most one at a time.
func TestBalancerSyncsWithoutWaitingForTheLookup(t *testing.T) {
	revs := &blockingRevisions{release: make(chan struct{})}
	pods := &fakePods{}
	b := NewBalancer(BalancerConfig{Pods: pods, Revisions: revs,
		Replicas: func() int { return 1 }, QueueDepth: 10, Clock: clock.RealClock{}})
	s := b.revision(rev1)
	pods.set(rev1, PodInfo{IP: "10.0.0.1", Ready: true})
	done := make(chan struct{})
	go func() {
		for range 20 {
			b.PodsChanged(rev1)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("PodsChanged waited for the revision's lookup")
	}
	s.thr.mu.Lock()
	inRotation := len(s.thr.pods)
	s.thr.mu.Unlock()
	if got := inRotation; got != 1 {
		t.Errorf("pods in rotation = %d, want 1 while the revision is being looked up", got)
	}
	for deadline := time.Now().Add(5 * time.Second); revs.asks.Load() < 2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	if got := revs.asks.Load(); got != 2 {
		t.Errorf("lookups started = %d, want 2 (the creation's, then one in the background)", got)
	}
	close(revs.release)
	deadline := time.Now().Add(5 * time.Second)
	for s.timeouts().FirstByte != 7*time.Second && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := s.timeouts().FirstByte; got != 7*time.Second {
		t.Errorf("first-byte timeout = %s after the lookup answered, want 7s", got)
	}
}

// slowRevisions answers a lookup after a delay, as the API server does.
type slowRevisions struct{ delay time.Duration }

func (r slowRevisions) Revision(Key) (RevisionInfo, bool) {
	time.Sleep(r.delay)
	return RevisionInfo{Timeout: time.Minute}, true
}

// The first request for a revision with no ready pod tells the scaler
// before the revision's lookup (an API round trip) returns; one with a
// ready pod does not.
func TestBalancerSignalsColdBeforeTheLookup(t *testing.T) {
	warm := Key{Namespace: "ns", Name: "warm-00001"}
	pods := &fakePods{}
	pods.set(warm, PodInfo{IP: "10.0.0.9", Ready: true})
	colds := make(chan Key, 2)
	b := NewBalancer(BalancerConfig{Pods: pods, Revisions: slowRevisions{delay: 200 * time.Millisecond},
		Replicas: func() int { return 1 }, QueueDepth: 10, Clock: clock.RealClock{},
		Cold: func(rev Key) { colds <- rev }})
	start := time.Now()
	go b.revision(rev1)
	select {
	case rev := <-colds:
		if rev != rev1 || time.Since(start) > 100*time.Millisecond {
			t.Errorf("signalled %v after %s; want %v before the 200 ms lookup", rev, time.Since(start), rev1)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no cold signal")
	}
	b.revision(warm)
	select {
	case rev := <-colds:
		t.Errorf("a revision with a ready pod signalled cold: %v", rev)
	default:
	}
}

// TestBalancerRotationFollowsReadiness: a new pod is probed and used before
// the kubelet reports it ready (the fast path of a cold start), but once the
// kubelet has reported a pod ready, its word alone counts: a pod it then
// reports not ready leaves the rotation, even though it still answers our
// probe, until the kubelet reports it ready again. An IP that leaves and
// comes back is a new pod.
func TestBalancerRotationFollowsReadiness(t *testing.T) {
	const (
		ready    = "ready"
		notReady = "not ready"
		gone     = "gone"
	)
	type step struct {
		pod  string
		want bool // in the rotation
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{name: "probed before the kubelet reports it ready", steps: []step{{notReady, true}, {ready, true}}},
		{name: "ready, then not ready", steps: []step{{ready, true}, {notReady, false}}},
		{name: "probed, ready, then not ready", steps: []step{{notReady, true}, {ready, true}, {notReady, false}}},
		{name: "not ready, then ready again", steps: []step{{ready, true}, {notReady, false}, {ready, true}, {notReady, false}}},
		{name: "gone, then back as a new pod", steps: []step{{ready, true}, {notReady, false}, {gone, false}, {notReady, true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := startPod(t, nil)
			pod.ready.Store(true) // answers every probe
			pods := &fakePods{}
			b := NewBalancer(BalancerConfig{Pods: pods, Revisions: fakeRevisions{}, Replicas: func() int { return 1 },
				QueueDepth: 10, Clock: clock.RealClock{}, Port: pod.port,
				Prober: &Prober{Client: &http.Client{Timeout: time.Second}, Clock: clock.RealClock{}, Interval: time.Millisecond}})
			s := b.revision(rev1)
			inRotation := func() bool {
				s.thr.mu.Lock()
				defer s.thr.mu.Unlock()
				return len(s.thr.pods) == 1
			}
			for i, st := range tc.steps {
				switch st.pod {
				case gone:
					pods.set(rev1)
				default:
					pods.set(rev1, PodInfo{IP: "127.0.0.1", Ready: st.pod == ready})
				}
				b.PodsChanged(rev1)
				if st.want { // as soon as a probe answers
					for deadline := time.Now().Add(5 * time.Second); !inRotation() && time.Now().Before(deadline); {
						time.Sleep(time.Millisecond)
					}
				} else { // and still out after many probe intervals
					time.Sleep(50 * time.Millisecond)
				}
				if got := inRotation(); got != st.want {
					t.Fatalf("step %d (%s): in the rotation = %v, want %v", i, st.pod, got, st.want)
				}
			}
		})
	}
}
