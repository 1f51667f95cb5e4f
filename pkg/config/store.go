package config

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// Store holds the current Config. Readers call Load or ToContext and never
// block; the ConfigMap watch replaces the snapshot atomically. Until every
// ConfigMap has been read once the snapshot holds defaults, which must not
// decide anything (a config-gc more retentive than Knative's would lose
// revisions): reconcilers and the webhook wait for Loaded first.
type Store struct {
	namespace string
	current   atomic.Pointer[Config]
	loaded    chan struct{}

	mu        sync.Mutex
	listeners []func(name string)

	// reading serialises reading a ConfigMap with applying it, so that a
	// slower reader never applies an older copy over a newer one.
	reading sync.Mutex
}

// NewStore returns a store for the ConfigMaps in namespace, starting from the
// defaults until the watch has read them.
func NewStore(namespace string) *Store {
	s := &Store{namespace: namespace, loaded: make(chan struct{})}
	s.current.Store(Default())
	return s
}

// Loaded is closed once every ConfigMap has been read (or found missing)
// once, by SetupWithManager's first read or by MarkLoaded.
func (s *Store) Loaded() <-chan struct{} { return s.loaded }

// WaitLoaded waits until Loaded is closed or ctx ends.
func (s *Store) WaitLoaded(ctx context.Context) error {
	select {
	case <-s.loaded:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the configuration to be read: %w", context.Cause(ctx))
	}
}

// LoadedContext is ToContext once the store is loaded. If ctx ends first it
// carries the defaults, but it has ended: every API call made with it
// fails, so nothing is decided on them.
func (s *Store) LoadedContext(ctx context.Context) context.Context {
	_ = s.WaitLoaded(ctx)
	return s.ToContext(ctx)
}

// MarkLoaded declares the current snapshot final, for stores that no watch
// fills (tests, tools). Calling it again does nothing.
func (s *Store) MarkLoaded() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.loaded:
	default:
		close(s.loaded)
	}
}

// Namespace is the namespace whose ConfigMaps the store reads.
func (s *Store) Namespace() string { return s.namespace }

// Load returns the current snapshot; callers must not modify it.
func (s *Store) Load() *Config { return s.current.Load() }

// ToContext puts the current snapshot into ctx (see Config.ToContext).
func (s *Store) ToContext(ctx context.Context) context.Context {
	return s.Load().ToContext(ctx)
}

// OnChange registers f to be called with the ConfigMap name after each change
// is published, so reconcilers can requeue the objects it affects.
func (s *Store) OnChange(f func(name string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listeners = append(s.listeners, f)
}

// Apply parses cm into the store. An invalid ConfigMap leaves the last good
// configuration in place and returns the error.
func (s *Store) Apply(cm *corev1.ConfigMap) error {
	s.mu.Lock()
	next, err := s.Load().Parse(cm)
	if err == nil {
		s.current.Store(next)
	}
	listeners := append([]func(string){}, s.listeners...)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	for _, f := range listeners {
		f(cm.Name)
	}
	return nil
}

// watcher reconciles the system namespace's ConfigMaps into the store.
type watcher struct {
	store    *Store
	client   client.Client
	recorder events.EventRecorder
}

// SetupWithManager watches the ConfigMaps in the store's namespace. The
// manager's cache should be limited to that namespace for ConfigMaps (as
// pkg/controller does), so other namespaces' ConfigMaps cost nothing. Once
// the manager's cache has started, every ConfigMap is read once and the
// store marked loaded; until then readiness (the "csclr-config" check)
// fails.
func (s *Store) SetupWithManager(mgr ctrl.Manager) error {
	w := &watcher{store: s, client: mgr.GetClient(), recorder: mgr.GetEventRecorder("csclr-config")}
	wanted := map[string]bool{}
	for _, n := range Names {
		wanted[n] = true
	}
	if err := mgr.Add(firstRead{w}); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("csclr-config", func(*http.Request) error {
		select {
		case <-s.loaded:
			return nil
		default:
			return errors.New("the configuration ConfigMaps have not been read yet")
		}
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("config").
		// Every replica keeps its store current, not only the leader: the
		// webhook answers on all replicas and defaults with this config.
		WithOptions(controller.Options{NeedLeaderElection: ptr.To(false)}).
		For(&corev1.ConfigMap{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetNamespace() == s.namespace && wanted[o.GetName()]
		}))).
		Complete(w)
}

// firstRead reads every ConfigMap once, on every replica, and marks the
// store loaded. The watch alone cannot tell when it is done: a missing
// ConfigMap gives it no event.
type firstRead struct{ w *watcher }

func (f firstRead) NeedLeaderElection() bool { return false }

func (f firstRead) Start(ctx context.Context) error {
	backoff := wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Cap: 10 * time.Second, Steps: math.MaxInt32}
	for _, name := range Names {
		key := types.NamespacedName{Namespace: f.w.store.namespace, Name: name}
		err := wait.ExponentialBackoffWithContext(ctx, backoff, func(ctx context.Context) (bool, error) {
			if err := f.w.read(ctx, key); err != nil {
				logr.FromContextOrDiscard(ctx).Error(err, "reading the configuration, retrying", "configmap", key)
				return false, nil
			}
			return true, nil
		})
		if err != nil {
			return nil // the manager is stopping
		}
	}
	f.w.store.MarkLoaded()
	return nil
}

func (w *watcher) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return ctrl.Result{}, w.read(ctx, req.NamespacedName)
}

// read applies the ConfigMap key as the cache has it now. An invalid one is
// reported and skipped, not retried: retrying cannot fix its content, and
// the next edit triggers a new read.
func (w *watcher) read(ctx context.Context, key types.NamespacedName) error {
	w.store.reading.Lock()
	defer w.store.reading.Unlock()
	log := logr.FromContextOrDiscard(ctx)
	cm := &corev1.ConfigMap{}
	err := w.client.Get(ctx, key, cm)
	if apierrors.IsNotFound(err) {
		log.Info("ConfigMap missing, using defaults", "configmap", key)
		return w.store.Apply(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}})
	}
	if err != nil {
		return err
	}
	if err := w.store.Apply(cm); err != nil {
		log.Error(err, "ignoring invalid ConfigMap", "configmap", key)
		w.recorder.Eventf(cm, nil, corev1.EventTypeWarning, "InvalidConfig", "Parse", "%v", err)
		return nil
	}
	log.V(1).Info("configuration updated", "configmap", key)
	return nil
}
