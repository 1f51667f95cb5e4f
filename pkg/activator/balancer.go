package activator

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"csclr.dev/csclr/pkg/queue"
	"csclr.dev/csclr/pkg/stats"
)

// Key names a revision.
type Key = types.NamespacedName

// PodInfo is one pod of a revision that has an IP. Terminating pods must not
// be listed.
type PodInfo struct {
	IP    string
	Ready bool // the kubelet's readiness; unready pods are probed directly
}

// PodLister lists a revision's pods (fed by a Pod informer in main).
type PodLister interface {
	RevisionPods(rev Key) []PodInfo
}

// RevisionInfo is what the activator needs from a Revision's spec.
type RevisionInfo struct {
	ContainerConcurrency int           // 0 = unlimited
	Timeout              time.Duration // spec.timeoutSeconds: the longest a cold request waits
}

// RevisionLister looks a revision up. A revision's spec never changes
// (Knative's validation refuses it), so the Balancer asks once per revision
// it holds state for, until an answer comes.
type RevisionLister interface {
	Revision(rev Key) (RevisionInfo, bool)
}

// defaultTimeout is Knative's revision-timeout-seconds, used while the
// revision could not be looked up yet.
const defaultTimeout = 300 * time.Second

// BalancerConfig wires a Balancer.
type BalancerConfig struct {
	Pods      PodLister
	Revisions RevisionLister
	Prober    *Prober
	// Replicas is the number of ready activators, among which each pod's
	// containerConcurrency is shared.
	Replicas func() int
	// QueueDepth bounds the requests one revision may hold here.
	QueueDepth int
	Clock      clock.Clock
	// Port is the pods' serving port; 0 means queue.ServingPort.
	Port int
	// Cold, if set, hears of a revision that gets its first request here
	// while it has no ready pod, before the revision is looked up (an API
	// round trip), so that the scaler learns of the cold start at once.
	Cold func(rev Key)
}

// Balancer keeps a throttler per revision that has had traffic here, fed
// with the revision's ready pods: those the kubelet reports ready, and those
// that answered this activator's own probe first (pods become usable as
// soon as they serve, not a readiness period later).
type Balancer struct {
	cfg BalancerConfig

	mu   sync.RWMutex
	revs map[Key]*revState
}

type revState struct {
	thr     *throttler
	timeout atomic.Int64                 // the revision's timeoutSeconds as a Duration, refreshed by sync
	info    atomic.Pointer[RevisionInfo] // nil until the lister answered
	asking  atomic.Bool                  // a lookup runs in the background

	mu      sync.Mutex
	probed  map[string]bool               // IPs that answered our probe
	probing map[string]context.CancelFunc // IPs being probed
}

// NewBalancer returns an empty Balancer.
func NewBalancer(cfg BalancerConfig) *Balancer {
	if cfg.Port == 0 {
		cfg.Port = queue.ServingPort
	}
	if cfg.QueueDepth <= 0 {
		cfg.QueueDepth = 1
	}
	return &Balancer{cfg: cfg, revs: map[Key]*revState{}}
}

// revision returns the revision's state, creating and syncing it on first use.
func (b *Balancer) revision(rev Key) *revState {
	b.mu.RLock()
	s := b.revs[rev]
	b.mu.RUnlock()
	if s != nil {
		return s
	}
	if b.cfg.Cold != nil && !anyReady(b.cfg.Pods.RevisionPods(rev)) {
		b.cfg.Cold(rev)
	}
	// The lookup may ask the API server: not under b.mu.
	info, found := b.cfg.Revisions.Revision(rev)
	b.mu.Lock()
	if s = b.revs[rev]; s == nil {
		s = &revState{thr: newThrottler(b.cfg.Clock.Now, b.cfg.QueueDepth), probed: map[string]bool{}, probing: map[string]context.CancelFunc{}}
		// Others may use s before the sync below: they wait for pods, and
		// as long as the revision allows, not for no time at all.
		if found {
			s.info.Store(&info)
		}
		s.timeout.Store(int64(s.info.Load().maxWait()))
		b.revs[rev] = s
	}
	b.mu.Unlock()
	b.sync(rev, s)
	return s
}

// limits are the revision's per-pod capacity at this activator (0 =
// unlimited) and the longest a request may wait for a pod. While the
// revision is not known yet, they are the defaults, and it is looked up
// again in the background.
func (b *Balancer) limits(rev Key, s *revState) (capacity int, timeout time.Duration) {
	info := s.info.Load()
	if info == nil {
		b.lookUpInBackground(rev, s)
	}
	if info != nil && info.ContainerConcurrency > 0 {
		capacity = max(1, info.ContainerConcurrency/max(1, b.cfg.Replicas()))
	}
	return capacity, info.maxWait()
}

// lookUpInBackground asks for the revision again, one lookup at a time,
// and syncs once it has the answer. sync runs in the informers' handlers,
// which must not wait on the API server (a lookup may take its 2 s bound).
func (b *Balancer) lookUpInBackground(rev Key, s *revState) {
	if !s.asking.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer s.asking.Store(false)
		if info, ok := b.cfg.Revisions.Revision(rev); ok {
			s.info.Store(&info)
			b.sync(rev, s)
		}
	}()
}

// maxWait is the longest a request may wait for a pod of the revision; i
// may be nil (not looked up yet).
func (i *RevisionInfo) maxWait() time.Duration {
	if i == nil || i.Timeout <= 0 {
		return defaultTimeout
	}
	return i.Timeout
}

// maxWait is how long a request for the revision may wait for a pod: its
// timeoutSeconds, read at the last sync so that the warm path never touches
// the informer cache.
func (s *revState) maxWait() time.Duration { return time.Duration(s.timeout.Load()) }

// PodsChanged re-reads a revision's pods; call it from the Pod and
// EndpointSlice informers' handlers. Revisions without traffic here are
// skipped.
func (b *Balancer) PodsChanged(rev Key) {
	b.mu.RLock()
	s := b.revs[rev]
	b.mu.RUnlock()
	if s != nil {
		b.sync(rev, s)
	}
}

// Resync re-reads every revision (e.g. when the activator count changes).
func (b *Balancer) Resync() {
	b.mu.RLock()
	revs := make(map[Key]*revState, len(b.revs))
	for k, s := range b.revs {
		revs[k] = s
	}
	b.mu.RUnlock()
	for k, s := range revs {
		b.sync(k, s)
	}
}

// sync recomputes the revision's usable pods, starts probing the pods that
// have an IP but are not ready yet, and stops probing pods that left.
func (b *Balancer) sync(rev Key, s *revState) {
	pods := b.cfg.Pods.RevisionPods(rev)
	capacity, timeout := b.limits(rev, s)
	s.timeout.Store(int64(timeout))
	s.mu.Lock()
	present := make(map[string]bool, len(pods))
	addrs := make([]string, 0, len(pods))
	for _, p := range pods {
		present[p.IP] = true
		if p.Ready || s.probed[p.IP] {
			addrs = append(addrs, b.addr(p.IP))
			if cancel := s.probing[p.IP]; cancel != nil {
				cancel()
				delete(s.probing, p.IP)
			}
			continue
		}
		if _, ok := s.probing[p.IP]; !ok && b.cfg.Prober != nil {
			ctx, cancel := context.WithCancel(context.Background())
			s.probing[p.IP] = cancel
			go b.probe(ctx, rev, s, p.IP)
		}
	}
	for ip, cancel := range s.probing {
		if !present[ip] {
			cancel()
			delete(s.probing, ip)
		}
	}
	for ip := range s.probed {
		if !present[ip] {
			delete(s.probed, ip) // an IP may come back as another pod
		}
	}
	s.mu.Unlock()
	s.thr.setPods(addrs, capacity)
}

func (b *Balancer) probe(ctx context.Context, rev Key, s *revState, ip string) {
	if !b.cfg.Prober.UntilReady(ctx, b.addr(ip)) {
		return
	}
	s.mu.Lock()
	s.probed[ip] = true
	delete(s.probing, ip)
	s.mu.Unlock()
	b.sync(rev, s)
}

func (b *Balancer) addr(ip string) string { return net.JoinHostPort(ip, strconv.Itoa(b.cfg.Port)) }

// Reports is the activator's load report for the scaler: per revision, the
// requests held here waiting for a pod (see scaler.ActivatorStatsPath).
func (b *Balancer) Reports(podName string) []stats.Report {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]stats.Report, 0, len(b.revs))
	for k, s := range b.revs {
		inFlight, requests, heldSecs, start := s.thr.held()
		out = append(out, stats.Report{Revision: k.String(), Pod: podName, StartUnix: start.Unix(),
			InFlight: inFlight, Requests: requests, ConcurrencySeconds: heldSecs})
	}
	return out
}

// Held is the number of requests held for all revisions (a metric).
func (b *Balancer) Held() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	n := 0
	for _, s := range b.revs {
		s.thr.mu.Lock()
		n += len(s.thr.waiters)
		s.thr.mu.Unlock()
	}
	return n
}

// Sweep forgets revisions with nothing in flight and no pod being probed,
// so that memory follows the revisions with traffic, not every revision
// ever seen. The next request recreates the state from the listers.
func (b *Balancer) Sweep() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, s := range b.revs {
		s.mu.Lock()
		probing := len(s.probing)
		s.mu.Unlock()
		if probing == 0 && s.thr.idle() {
			delete(b.revs, k)
		}
	}
}

func anyReady(pods []PodInfo) bool {
	for _, p := range pods {
		if p.Ready {
			return true
		}
	}
	return false
}
