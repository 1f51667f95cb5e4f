package route

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/clock"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	revresources "csclr.dev/csclr/pkg/reconciler/revision/resources"
	"csclr.dev/csclr/pkg/reconciler/terminating"
)

// Field indexes on Routes: the Configurations and Revisions their traffic
// names, so a change to one wakes only the Routes that use it.
const (
	configurationIndex = "csclr.route.configurations"
	revisionIndex      = "csclr.route.revisions"
)

// Options are what the Route reconciler needs from its caller.
type Options struct {
	// WithConfig puts the cluster configuration into the context.
	WithConfig func(context.Context) context.Context
	// SystemNamespace is where the activator's Service lives.
	SystemNamespace string
	// ConfigChanged delivers an event whenever config-network,
	// config-domain or config-features changes, to recompute every Route's
	// URLs, Ingress and HTTPRoute (may be nil).
	ConfigChanged <-chan event.GenericEvent
	// Clock drives gradual rollouts; nil is the real clock.
	Clock clock.PassiveClock
}

// SetupWithManager registers the Route reconciler and its indexes and watches.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	ctx := context.Background()
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &v1.Route{}, configurationIndex, func(o client.Object) []string {
		var out []string
		for _, t := range o.(*v1.Route).Spec.Traffic {
			if t.ConfigurationName != "" {
				out = append(out, t.ConfigurationName)
			}
		}
		return out
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1.Route{}, revisionIndex, func(o client.Object) []string {
		var out []string
		for _, t := range o.(*v1.Route).Spec.Traffic {
			if t.RevisionName != "" {
				out = append(out, t.RevisionName)
			}
		}
		return out
	}); err != nil {
		return err
	}

	for _, obj := range []client.Object{&v1.Configuration{}, &v1.Revision{}} {
		if err := idx.IndexField(ctx, obj, RoutesIndex, RoutesOf); err != nil {
			return err
		}
	}

	guarded, recorder, err := terminating.ForManager(mgr, "route-controller")
	if err != nil {
		return err
	}
	r := &Reconciler{
		Client:          guarded,
		APIReader:       mgr.GetAPIReader(),
		Recorder:        recorder,
		Clock:           opts.Clock,
		WithConfig:      opts.WithConfig,
		SystemNamespace: opts.SystemNamespace,
	}
	c := mgr.GetClient()
	routesUsing := func(index string) func(context.Context, string, string) []reconcile.Request {
		return func(ctx context.Context, ns, name string) []reconcile.Request {
			list := &v1.RouteList{}
			if err := c.List(ctx, list, client.InNamespace(ns), client.MatchingFields{index: name}); err != nil {
				return nil
			}
			return requests(list)
		}
	}
	byConfig, byRevision := routesUsing(configurationIndex), routesUsing(revisionIndex)
	allRoutes := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
		list := &v1.RouteList{}
		if err := c.List(ctx, list); err != nil {
			return nil
		}
		return requests(list)
	})
	isActivator := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetNamespace() == opts.SystemNamespace && o.GetLabels()[discoveryv1.LabelServiceName] == revresources.ActivatorService
	})

	b := ctrl.NewControllerManagedBy(mgr).
		Named("route").
		For(&v1.Route{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{},
			predicate.LabelChangedPredicate{},
			predicate.AnnotationChangedPredicate{},
			deleting,
		))).
		Owns(&corev1.Service{}).
		Owns(&discoveryv1.EndpointSlice{}).
		Owns(&gatewayv1.HTTPRoute{}).
		Owns(&networkingv1.Ingress{}).
		Watches(&v1.Configuration{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return byConfig(ctx, o.GetNamespace(), o.GetName())
		})).
		Watches(&v1.Revision{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			reqs := byRevision(ctx, o.GetNamespace(), o.GetName())
			if cfg := o.GetLabels()[serving.ConfigurationLabelKey]; cfg != "" {
				reqs = append(reqs, byConfig(ctx, o.GetNamespace(), cfg)...)
			}
			return reqs
		})).
		Watches(&discoveryv1.EndpointSlice{}, allRoutes, builder.WithPredicates(isActivator))
	if opts.ConfigChanged != nil {
		b = b.WatchesRawSource(source.Channel(opts.ConfigChanged, allRoutes))
	}
	return b.Complete(terminating.Reconciler(r))
}

// deleting passes updates that mark a Route for deletion or change its
// finalizers, which the finalizer logic acts on.
var deleting = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectNew.GetDeletionTimestamp() != nil ||
			len(e.ObjectNew.GetFinalizers()) != len(e.ObjectOld.GetFinalizers())
	},
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
}

func requests(list *v1.RouteList) []reconcile.Request {
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, r := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&r)})
	}
	return out
}
