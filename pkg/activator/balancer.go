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

	"csclr.dev/csclr/pkg/deadline"
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
	ContainerConcurrency int // 0 = unlimited
	// The revision's request timeouts, which the activator applies to the
	// whole request from its arrival, the wait for a pod included (as
	// Knative's activator does): the pod's queue sidecar starts its own
	// clocks only when the request reaches it.
	Timeout              time.Duration // spec.timeoutSeconds; 0 = defaultTimeout
	ResponseStartTimeout time.Duration // spec.responseStartTimeoutSeconds; 0 = Timeout alone
	IdleTimeout          time.Duration // spec.idleTimeoutSeconds; 0 = none
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
	thr    *throttler
	info   atomic.Pointer[RevisionInfo] // nil until the lister answered
	asking atomic.Bool                  // a lookup runs in the background
	// users counts the requests between use and leave, so that Sweep never
	// drops a state a request has found but not yet queued on (it would
	// wait on a throttler that no sync feeds any more, until its timeout).
	users atomic.Int32
	// used says a request came since the last Sweep.
	used atomic.Bool

	// mu serialises syncs (an older pod list must not overwrite a newer
	// one) and guards what follows.
	mu     sync.Mutex
	listed int // pods with an IP at the last sync, ready or not
	// probed holds the IPs that answered our probe before the kubelet
	// reported them ready; wasReady those it has reported ready. From then
	// on the kubelet's word alone counts: probing only gets ahead of a new
	// pod's first ready flip, and a pod it reports not ready (failing its
	// readiness, overloaded) must leave the rotation.
	probed   map[string]bool
	wasReady map[string]bool
	probing  map[string]context.CancelFunc // IPs being probed
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

// use is revision for a request: the state is kept from Sweep until the
// request calls leave.
func (b *Balancer) use(rev Key) *revState { return b.state(rev, true) }

// leave ends what use began.
func (s *revState) leave() { s.users.Add(-1) }

// revision returns the revision's state, creating and syncing it on first use.
func (b *Balancer) revision(rev Key) *revState { return b.state(rev, false) }

func (b *Balancer) state(rev Key, claim bool) *revState {
	b.mu.RLock()
	s := b.revs[rev]
	if s != nil && claim {
		s.claim() // under b.mu, which Sweep holds to drop a state
	}
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
		s = &revState{thr: newThrottler(b.cfg.Clock.Now, b.cfg.QueueDepth),
			probed: map[string]bool{}, wasReady: map[string]bool{}, probing: map[string]context.CancelFunc{}}
		// Others may use s before the sync below: they wait for pods, and
		// as long as the revision allows, not for no time at all.
		if found {
			s.info.Store(&info)
		}
		b.revs[rev] = s
	}
	if claim {
		s.claim()
	}
	b.mu.Unlock()
	b.sync(rev, s)
	return s
}

func (s *revState) claim() {
	s.users.Add(1)
	if !s.used.Load() { // a store per request would bounce the cache line between cores
		s.used.Store(true)
	}
}

// capacity is the revision's per-pod capacity at this activator (0 =
// unlimited). While the revision is not known yet, it is unlimited (the
// queue sidecar still enforces containerConcurrency), and the revision is
// looked up again in the background.
func (b *Balancer) capacity(rev Key, s *revState) int {
	info := s.info.Load()
	if info == nil {
		b.lookUpInBackground(rev, s)
		return 0
	}
	if info.ContainerConcurrency > 0 {
		return max(1, info.ContainerConcurrency/max(1, b.cfg.Replicas()))
	}
	return 0
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

// timeouts are the revision's request deadlines, as the queue sidecar
// does (deadline.For); i may be nil (not looked up yet).
func (i *RevisionInfo) timeouts() deadline.Timeouts {
	if i == nil {
		return deadline.For(defaultTimeout, 0, 0)
	}
	timeout := i.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	return deadline.For(timeout, i.ResponseStartTimeout, i.IdleTimeout)
}

// timeouts are the revision's request deadlines as known now: an atomic
// read, so that the warm path never touches the informer cache.
func (s *revState) timeouts() deadline.Timeouts { return s.info.Load().timeouts() }

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
// have an IP but were never reported ready, and stops probing pods that
// left or were reported ready.
func (b *Balancer) sync(rev Key, s *revState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Read under s.mu: two syncs may run at once (informer, probe, lookup),
	// and the later reading must be the one applied.
	capacity := b.capacity(rev, s)
	pods := b.cfg.Pods.RevisionPods(rev)
	s.listed = len(pods)
	present := make(map[string]bool, len(pods))
	addrs := make([]string, 0, len(pods))
	for _, p := range pods {
		present[p.IP] = true
		if p.Ready {
			s.wasReady[p.IP] = true
			delete(s.probed, p.IP)
		}
		usable := p.Ready || (s.probed[p.IP] && !s.wasReady[p.IP])
		if usable || s.wasReady[p.IP] {
			// In the rotation, or out of it until the kubelet says ready
			// again: no probe either way.
			if usable {
				addrs = append(addrs, b.addr(p.IP))
			}
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
	for _, seen := range []map[string]bool{s.probed, s.wasReady} {
		for ip := range seen {
			if !present[ip] {
				delete(seen, ip) // an IP may come back as another pod
			}
		}
	}
	s.thr.setPods(addrs, capacity)
}

func (b *Balancer) probe(ctx context.Context, rev Key, s *revState, ip string) {
	if !b.cfg.Prober.UntilReady(ctx, b.addr(ip)) {
		return
	}
	s.mu.Lock()
	if ctx.Err() != nil {
		// A sync cancelled this probe (under s.mu) as it succeeded: the pod
		// left, or the kubelet has spoken for it since.
		s.mu.Unlock()
		return
	}
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

// Sweep forgets revisions that have no pod, had no request since the last
// Sweep and have nothing in flight, so that memory follows the revisions
// with traffic, not every revision ever seen. The next request recreates
// the state, which costs a lookup on the API server on the request's path:
// a revision with pods keeps its state (the informers keep it current, and
// a warm request must not pay that round trip however rare its traffic),
// and a revision without pods pays it while it waits for one to start.
func (b *Balancer) Sweep() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, s := range b.revs {
		if s.used.Swap(false) || s.users.Load() > 0 {
			continue
		}
		s.mu.Lock()
		hasPods := s.listed > 0 // pods being probed included
		s.mu.Unlock()
		if !hasPods && s.thr.idle() {
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
