package activator

import (
	"testing"

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
