package scaler

import (
	"context"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	pb "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
)

// forgetAfter is how long a revision that neither KEDA nor an activator has
// mentioned is kept: long enough to outlive KEDA's polling and cooldown.
const forgetAfter = 15 * time.Minute

// Scaler holds every known revision's load windows and KEDA's open streams.
// It is safe for concurrent use; all of its state is behind one mutex because
// each operation on it is a few map lookups and float additions.
type Scaler struct {
	pb.UnimplementedExternalScalerServer

	clock   clock.Clock
	metrics metrics
	mu      sync.Mutex
	revs    map[types.NamespacedName]*revision
}

// revision is the scaler's state for one revision.
type revision struct {
	spec      Spec
	win       *window // one bucket per second over the stable window
	dec       decider
	sources   map[string]sample // the last report of each pod and activator
	readyPods int
	inFlight  int64     // requests in progress at the last gathering
	lastPoke  time.Time // the last cold request signalled
	lastSeen  time.Time // the last time KEDA or an activator mentioned it
	streams   map[chan struct{}]struct{}
	// gathered is closed by this replica's first gathering round of the
	// revision: until then it knows nothing of its pods or load.
	gathered chan struct{}
	// whole is set when the window began while the revision had no ready
	// pod (a cold start seen from the beginning): it then lacks no load,
	// and the KPA's decision holds from the first round. Otherwise the
	// window began with pods already serving (a failover of KEDA's
	// connection, this activator just started, or a changed window): load
	// from before is missing (see partialLocked).
	whole bool
}

// New returns an empty Scaler reading time from clk.
func New(clk clock.Clock) *Scaler {
	return &Scaler{clock: clk, revs: map[types.NamespacedName]*revision{}, metrics: newMetrics()}
}

// revisionLocked returns the revision's state, creating it with spec (or
// Knative's defaults when spec is nil), and adopts a changed spec.
func (s *Scaler) revisionLocked(key types.NamespacedName, spec *Spec) *revision {
	r := s.revs[key]
	if r == nil {
		sp := Spec{Revision: key, Metric: MetricConcurrency, Target: defaultConcurrencyTarget,
			StableWindow: DefaultStableWindow, PanicWindowPct: DefaultPanicWindowPct, PanicThresholdPct: DefaultPanicThresholdPct}
		if spec != nil {
			sp = *spec
		}
		r = &revision{spec: sp, win: newWindow(sp.StableWindow), sources: map[string]sample{},
			streams: map[chan struct{}]struct{}{}, gathered: make(chan struct{})}
		s.revs[key] = r
	} else if spec != nil && *spec != r.spec {
		if spec.StableWindow != r.spec.StableWindow || spec.Metric != r.spec.Metric {
			r.win = newWindow(spec.StableWindow) // old values are in another unit or span
			r.whole = false                      // until the next round says whether pods serve
		}
		r.spec = *spec
	}
	r.lastSeen = s.clock.Now()
	return r
}

// ColdRequest records that a request for the revision arrived while it had
// no ready pod, and wakes KEDA's streams for it at once.
func (s *Scaler) ColdRequest(key types.NamespacedName) {
	s.metrics.coldSignals.Inc()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.revisionLocked(key, nil)
	r.lastPoke = s.clock.Now()
	for ch := range r.streams {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending on this stream
		}
	}
}

// Decide evaluates the revision's windows now.
func (s *Scaler) Decide(spec Spec) decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.revisionLocked(spec.Revision, &spec)
	return s.decideLocked(r)
}

func (s *Scaler) decideLocked(r *revision) decision {
	now := s.clock.Now()
	stable := r.win.average(now, r.spec.StableWindow)
	panic := r.win.average(now, r.spec.PanicWindow())
	d := r.dec.decide(now, r.spec, stable, panic, r.readyPods)
	if partialLocked(r, now) && d.Desired < r.readyPods {
		d.Desired, d.Held = r.readyPods, true
	}
	return d
}

// partialLocked reports whether the revision's window may lack load this
// replica never saw: pods are serving, the window began with pods already
// serving, and it does not span a stable window yet. KEDA reconnects to
// another activator when the one holding its gRPC connection dies, and
// every activator starts empty at a rollout; the first figures such a
// replica gathers cover seconds, not the minute Knative's stable average
// scales down on (and their first round has no deltas yet: a rate reads 0).
// Reported as is, they would let the HPA (scale-down stabilization = the
// scale-down delay, default 0) halve a busy revision at every failover. So
// until the window is full the decision never goes below the pods ready
// now: scale-ups pass, scale-downs wait for a full stable window, as they
// would have on the replica that had the history. (Answering KEDA with an
// error instead would also freeze scale-ups, and costs a KEDA event, a
// scaler-cache rebuild and, from KEDA's polling, a Ready=False condition
// per revision; see GetMetrics.)
func partialLocked(r *revision, now time.Time) bool {
	return !r.whole && r.readyPods > 0 && r.win.seen(now) < r.spec.StableWindow
}

// firstRoundWait bounds how long GetMetrics waits for this replica's first
// gathering round of a revision it has just heard of: the activator gathers
// every second, and the round under way when KEDA asked may have listed the
// revisions before this one, so two rounds and their scrapes, with margin.
const firstRoundWait = 3 * time.Second

// awaitFirstRound registers the revision and waits until this replica has
// gathered it once, for at most firstRoundWait. It reports whether it has.
// Before that round the scaler knows neither the revision's pods nor its
// load, and any value it gave would be a guess (0, formerly: the HPA then
// halved a busy revision).
func (s *Scaler) awaitFirstRound(ctx context.Context, spec Spec) bool {
	s.mu.Lock()
	gathered := s.revisionLocked(spec.Revision, &spec).gathered
	s.mu.Unlock()
	select {
	case <-gathered:
		return true
	default:
	}
	t := s.clock.NewTimer(firstRoundWait)
	defer t.Stop()
	select {
	case <-gathered:
		return true
	case <-ctx.Done():
		return false
	case <-t.C():
		return false
	}
}

// Active reports whether the revision should have pods: a request is in
// progress or held, one arrived within the stable window, a cold request
// was signalled within it, or this replica cannot tell yet because its
// window is partial (see partialLocked: "no load for a stable window" is
// not something a replica can vouch for before it has watched one).
func (s *Scaler) Active(spec Spec) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.activeLocked(s.revisionLocked(spec.Revision, &spec))
}

func (s *Scaler) activeLocked(r *revision) bool {
	now := s.clock.Now()
	if r.inFlight > 0 || (!r.lastPoke.IsZero() && now.Sub(r.lastPoke) < r.spec.StableWindow) || partialLocked(r, now) {
		return true
	}
	return r.win.average(now, r.spec.StableWindow) > 0
}

// subscribe registers a KEDA stream for the revision: the returned channel
// receives a value whenever a cold request arrives (coalesced, never
// blocking the signaller). cancel unregisters it.
func (s *Scaler) subscribe(spec Spec) (wake <-chan struct{}, activeNow bool, cancel func()) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	r := s.revisionLocked(spec.Revision, &spec)
	r.streams[ch] = struct{}{}
	activeNow = s.activeLocked(r)
	s.mu.Unlock()
	s.metrics.streams.Inc()
	return ch, activeNow, func() {
		s.mu.Lock()
		delete(r.streams, ch)
		s.mu.Unlock()
		s.metrics.streams.Dec()
	}
}

// Revisions lists the revisions the scaler currently gathers load for, and
// forgets those nobody has mentioned for a long time.
func (s *Scaler) Revisions() []types.NamespacedName {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	out := make([]types.NamespacedName, 0, len(s.revs))
	for k, r := range s.revs {
		if len(r.streams) == 0 && now.Sub(r.lastSeen) > forgetAfter {
			delete(s.revs, k)
			continue
		}
		out = append(out, k)
	}
	return out
}

// Key names a revision: its namespace and name.
type Key = types.NamespacedName

// parseKey reads "namespace/name"; anything else is the zero Key.
func parseKey(s string) Key {
	ns, name, ok := strings.Cut(s, "/")
	if !ok {
		return Key{}
	}
	return Key{Namespace: ns, Name: name}
}
