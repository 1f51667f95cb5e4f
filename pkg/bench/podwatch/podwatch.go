// Package podwatch records, per Knative revision, when a watch first saw
// the revision's first pod and when it saw that pod Ready: the pod's own
// start, against which the cold-start benchmarks measure a request.
package podwatch

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"
)

// RevisionLabel is the label Knative (and csclr) put on a revision's pods.
const RevisionLabel = "serving.knative.dev/revision"

// PodTimes is when the watch first saw a revision's first pod, and when it
// first saw that pod Ready. Watch times, not the objects' timestamps: those
// have one-second resolution, and the request's clock is this process's.
type PodTimes struct {
	Pod            string
	Created, Ready time.Time
}

// Watch records PodTimes per revision from one informer on a namespace's
// pods. Safe for concurrent use.
type Watch struct {
	mu      sync.Mutex
	byRev   map[string]*PodTimes
	changed chan struct{} // closed and replaced on every change
	now     func() time.Time
}

// New returns a Watch that records nothing until Start.
func New() *Watch {
	return &Watch{byRev: map[string]*PodTimes{}, changed: make(chan struct{}), now: time.Now}
}

// observe handles an add or update: the first pod of each revision counts.
func (w *Watch) observe(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	rev := pod.Labels[RevisionLabel]
	if rev == "" {
		return
	}
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.byRev[rev]
	if t == nil {
		t = &PodTimes{Pod: pod.Name, Created: now}
		w.byRev[rev] = t
		w.notify()
	}
	if t.Pod == pod.Name && t.Ready.IsZero() && podReady(pod) {
		t.Ready = now
		w.notify()
	}
}

func (w *Watch) notify() {
	close(w.changed)
	w.changed = make(chan struct{})
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Get returns rev's times so far and a channel closed at the next change.
func (w *Watch) Get(rev string) (PodTimes, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var t PodTimes
	if p := w.byRev[rev]; p != nil {
		t = *p
	}
	return t, w.changed
}

// WaitReady waits until rev's pod has been seen Ready, at most until
// deadline, and returns what was seen.
func (w *Watch) WaitReady(rev string, deadline time.Time) PodTimes {
	for {
		t, changed := w.Get(rev)
		if !t.Ready.IsZero() {
			return t
		}
		select {
		case <-changed:
		case <-time.After(time.Until(deadline)):
			return t
		}
	}
}

// Start runs the informer until ctx ends and waits for its first list.
func (w *Watch) Start(ctx context.Context, kube kubernetes.Interface, namespace string) error {
	f := informers.NewSharedInformerFactoryWithOptions(kube, 0, informers.WithNamespace(namespace))
	inf := f.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    w.observe,
		UpdateFunc: func(_, obj any) { w.observe(obj) },
	}); err != nil {
		return err
	}
	f.Start(ctx.Done())
	syncCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if !toolscache.WaitForCacheSync(syncCtx.Done(), inf.HasSynced) {
		return fmt.Errorf("the pod watch of namespace %s did not sync in 30s", namespace)
	}
	return nil
}
