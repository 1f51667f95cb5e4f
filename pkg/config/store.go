package config

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// Store holds the current Config. Readers call Load or ToContext and never
// block; the ConfigMap watch replaces the snapshot atomically.
type Store struct {
	namespace string
	current   atomic.Pointer[Config]

	mu        sync.Mutex
	listeners []func(name string)
}

// NewStore returns a store for the ConfigMaps in namespace, starting from the
// defaults until the watch has read them.
func NewStore(namespace string) *Store {
	s := &Store{namespace: namespace}
	s.current.Store(Default())
	return s
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
// pkg/controller does), so other namespaces' ConfigMaps cost nothing.
func (s *Store) SetupWithManager(mgr ctrl.Manager) error {
	w := &watcher{store: s, client: mgr.GetClient(), recorder: mgr.GetEventRecorder("csclr-config")}
	wanted := map[string]bool{}
	for _, n := range Names {
		wanted[n] = true
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

func (w *watcher) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := logr.FromContextOrDiscard(ctx)
	cm := &corev1.ConfigMap{}
	err := w.client.Get(ctx, req.NamespacedName, cm)
	if apierrors.IsNotFound(err) {
		log.Info("ConfigMap deleted, using defaults", "configmap", req.NamespacedName)
		return ctrl.Result{}, w.store.Apply(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: req.Namespace, Name: req.Name}})
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := w.store.Apply(cm); err != nil {
		// Retrying cannot fix the content; the next edit triggers a new try.
		log.Error(err, "ignoring invalid ConfigMap", "configmap", req.NamespacedName)
		w.recorder.Eventf(cm, nil, corev1.EventTypeWarning, "InvalidConfig", "Parse", "%v", err)
		return ctrl.Result{}, nil
	}
	log.V(1).Info("configuration updated", "configmap", req.NamespacedName)
	return ctrl.Result{}, nil
}
