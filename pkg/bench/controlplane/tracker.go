package controlplane

import (
	"sync"
	"time"

	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

// tracker holds every Service's timing. The creating workers and the
// informer's event handler both write to it.
type tracker struct {
	mu      sync.Mutex
	timings []Timing
	index   map[string]int
	ready   int
	// want is how many Services must be Ready for "all Ready": -1 until
	// creation ends, then the number actually created.
	want     int
	allReady chan struct{}
	readyAt  time.Time
	now      func() time.Time
}

func newTracker(names []string) *tracker {
	t := &tracker{timings: make([]Timing, len(names)), index: map[string]int{}, want: -1, allReady: make(chan struct{}), now: time.Now}
	for i, n := range names {
		t.timings[i].Name = n
		t.index[n] = i
	}
	return t
}

func (t *tracker) createStarted(i int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.timings[i].CreateStart = t.now()
}

func (t *tracker) createDone(i int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.timings[i].CreateErr = err
		return
	}
	t.timings[i].Created = t.now()
}

// creationEnded fixes how many Services "all Ready" means: those whose
// create call succeeded.
func (t *tracker) creationEnded() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.want = 0
	for _, tm := range t.timings {
		if !tm.Created.IsZero() {
			t.want++
		}
	}
	t.checkAll()
}

// observe is the informer's handler for adds and updates. Only the first
// Ready counts: a Service that later flaps keeps its first time.
func (t *tracker) observe(obj any) {
	svc, ok := obj.(*servingv1.Service)
	if !ok {
		return
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.index[svc.Name]
	if !ok {
		return
	}
	tm := &t.timings[i]
	if c := svc.Status.GetCondition(servingv1.ServiceConditionReady); c != nil {
		tm.LastReason = c.Reason + ": " + truncate(c.Message, 120)
	}
	if !tm.Ready.IsZero() || !svc.IsReady() {
		return
	}
	tm.Ready = now
	t.ready++
	t.checkAll()
}

func (t *tracker) checkAll() {
	if t.want >= 0 && t.ready >= t.want && t.readyAt.IsZero() {
		t.readyAt = t.now()
		close(t.allReady)
	}
}

// counts reports progress: created, ready, total.
func (t *tracker) counts() (created, ready, total int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tm := range t.timings {
		if !tm.Created.IsZero() {
			created++
		}
	}
	return created, t.ready, len(t.timings)
}

// snapshot copies the timings and the all-Ready time (zero if not reached).
func (t *tracker) snapshot() ([]Timing, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Timing(nil), t.timings...), t.readyAt
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
