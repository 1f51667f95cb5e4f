package revision

import (
	"context"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"csclr.dev/csclr/pkg/reconciler/revision/resources"
	"csclr.dev/csclr/pkg/reconciler/terminating"
)

// ControllerName names the controller, its events and its logs.
const ControllerName = "revision-controller"

// SetupWithManager registers the Revision reconciler. It watches Revisions,
// the objects they own, the revisions' pods (their readiness drives the
// endpoints) and the activator's EndpointSlices (they are the endpoints of
// every revision in proxy mode); an event on opts.ConfigChanged reconciles
// every Revision.
//
// The manager's cache holds every object of these kinds it is asked for;
// to keep memory low, restrict it in the manager's cache options to the
// objects csclr creates (controller.CacheOptions): the reconciler reads a
// child the cache does not show without it before it creates it again.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	c, recorder, err := terminating.ForManager(mgr, ControllerName)
	if err != nil {
		return err
	}
	r := &Reconciler{
		client:   c,
		reader:   mgr.GetAPIReader(),
		config:   opts.Config,
		clock:    opts.Clock,
		resolver: opts.Resolver,
		recorder: recorder,
	}
	if r.config == nil {
		r.config = func(context.Context) Config { return DefaultConfig() }
	}
	if r.clock == nil {
		r.clock = clock.RealClock{}
	}
	if r.resolver == nil {
		// Uncached: pull secrets live in every namespace, and caching them
		// would mean watching every Secret in the cluster.
		r.resolver = RegistryResolver{Transport: opts.Transport, Reader: mgr.GetAPIReader()}
	}
	workers := opts.MaxConcurrentReconciles
	if workers <= 0 {
		workers = 4
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&v1.Revision{}).
		// Every change, without a predicate: KEDA's (or the HPA's) writes
		// of spec.replicas are what the scale events are made of (scale.go).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Service{}).
		Owns(&discoveryv1.EndpointSlice{}).
		Owns(&kedav1alpha1.ScaledObject{}, builder.WithPredicates(scaledObjectChanged)).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(podToRevision)).
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(r.activatorToRevisions)).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers})
	if opts.ConfigChanged != nil {
		b = b.WatchesRawSource(source.Channel(opts.ConfigChanged, handler.EnqueueRequestsFromMapFunc(r.allRevisions)))
	}
	return b.Complete(terminating.Reconciler(r))
}

// allRevisions maps a configuration change to every revision: the queue
// image, tracing and the progress deadline are in every Deployment.
func (r *Reconciler) allRevisions(ctx context.Context, _ client.Object) []reconcile.Request {
	var list v1.RevisionList
	if err := r.client.List(ctx, &list); err != nil {
		log.FromContext(ctx).Error(err, "listing the revisions after a configuration change; they pick it up at their next reconcile")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, rev := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&rev)})
	}
	return reqs
}

// podToRevision maps a revision pod to its revision.
func podToRevision(_ context.Context, o client.Object) []reconcile.Request {
	name := o.GetLabels()[serving.RevisionLabelKey]
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}}}
}

// activatorToRevisions maps a change of the activator's endpoints to every
// revision whose public endpoints are the activator's now.
func (r *Reconciler) activatorToRevisions(ctx context.Context, o client.Object) []reconcile.Request {
	cfg := r.config(ctx)
	if o.GetNamespace() != cfg.SystemNamespace || o.GetLabels()[discoveryv1.LabelServiceName] != resources.ActivatorService {
		return nil
	}
	var proxied discoveryv1.EndpointSliceList
	if err := r.client.List(ctx, &proxied, client.MatchingLabels{
		discoveryv1.LabelManagedBy: resources.ManagedByValue,
		resources.ModeLabelKey:     string(resources.ModeProxy),
	}); err != nil {
		log.FromContext(ctx).Error(err, "listing the revisions in proxy mode after an activator change; they update at their next resync")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(proxied.Items))
	for _, s := range proxied.Items {
		if rev := s.Labels[serving.RevisionLabelKey]; rev != "" {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: s.Namespace, Name: rev}})
		}
	}
	return reqs
}
