package scaler

import (
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

	clock clock.PassiveClock
	// onActivity, if set, hears when a revision turns active (a cold
	// request, or KEDA's IsActive saying so after it said no) or inactive
	// (IsActive saying no after yes): the scale-from-zero and scale-to-zero
	// moments, for Kubernetes events. It is called without the lock held
	// and must not block.
	onActivity func(rev Key, active bool)
	mu         sync.Mutex
	revs       map[types.NamespacedName]*revision
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
	active    bool // what IsActive or a cold request last said
}

// New returns an empty Scaler reading time from clk.
func New(clk clock.PassiveClock) *Scaler {
	return &Scaler{clock: clk, revs: map[types.NamespacedName]*revision{}}
}

// OnActivity sets the activity hook (see Scaler.onActivity); call it before
// serving.
func (s *Scaler) OnActivity(fn func(rev Key, active bool)) { s.onActivity = fn }

// noteActivityLocked records what was last said about the revision and
// returns the hook call to make after unlocking, if it changed.
func (s *Scaler) noteActivityLocked(key Key, r *revision, active bool) func() {
	if r.active == active || s.onActivity == nil {
		r.active = active
		return func() {}
	}
	r.active = active
	return func() { s.onActivity(key, active) }
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
		r = &revision{spec: sp, win: newWindow(sp.StableWindow), sources: map[string]sample{}, streams: map[chan struct{}]struct{}{}}
		s.revs[key] = r
	} else if spec != nil && *spec != r.spec {
		if spec.StableWindow != r.spec.StableWindow || spec.Metric != r.spec.Metric {
			r.win = newWindow(spec.StableWindow) // old values are in another unit or span
		}
		r.spec = *spec
	}
	r.lastSeen = s.clock.Now()
	return r
}

// ColdRequest records that a request for the revision arrived while it had
// no ready pod, and wakes KEDA's streams for it at once.
func (s *Scaler) ColdRequest(key types.NamespacedName) {
	s.mu.Lock()
	r := s.revisionLocked(key, nil)
	r.lastPoke = s.clock.Now()
	for ch := range r.streams {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending on this stream
		}
	}
	notify := s.noteActivityLocked(key, r, true)
	s.mu.Unlock()
	notify()
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
	return r.dec.decide(now, r.spec, stable, panic, r.readyPods)
}

// Active reports whether the revision should have pods: a request is in
// progress or held, one arrived within the stable window, or a cold request
// was signalled within it.
func (s *Scaler) Active(spec Spec) bool {
	s.mu.Lock()
	r := s.revisionLocked(spec.Revision, &spec)
	active := s.activeLocked(r)
	notify := s.noteActivityLocked(spec.Revision, r, active)
	s.mu.Unlock()
	notify()
	return active
}

func (s *Scaler) activeLocked(r *revision) bool {
	now := s.clock.Now()
	if r.inFlight > 0 || (!r.lastPoke.IsZero() && now.Sub(r.lastPoke) < r.spec.StableWindow) {
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
	return ch, activeNow, func() {
		s.mu.Lock()
		delete(r.streams, ch)
		s.mu.Unlock()
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
