// Package route reconciles Knative Routes: it resolves the traffic targets to
// ready revisions, programs the apex Service, its EndpointSlice, the
// HTTPRoute and the Ingress, and each tag's Service, EndpointSlice and
// HTTPRoute, and reports URLs, traffic and conditions.
package route

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	netv1alpha1 "knative.dev/networking/pkg/apis/networking/v1alpha1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	routecfg "knative.dev/serving/pkg/reconciler/route/config"
	"knative.dev/serving/pkg/reconciler/route/domains"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"csclr.dev/csclr/pkg/names"
	"csclr.dev/csclr/pkg/reconciler/changes"
	"csclr.dev/csclr/pkg/reconciler/children"
	"csclr.dev/csclr/pkg/reconciler/knstatus"
	"csclr.dev/csclr/pkg/reconciler/route/resources"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Reconciler programs a Route's traffic.
type Reconciler struct {
	Client client.Client
	// APIReader reads without the cache, which holds only the children
	// that carry csclr's labels (see package children); nil is Client.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
	// WithConfig puts the cluster configuration into the context
	// (config.Store.ToContext).
	WithConfig func(context.Context) context.Context
	// SystemNamespace is where the activator's Service lives.
	SystemNamespace string
}

// Reconcile implements reconcile.Reconciler.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	route := &v1.Route{}
	if err := r.Client.Get(ctx, req.NamespacedName, route); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if route.DeletionTimestamp != nil {
		return ctrl.Result{}, r.finalize(ctx, route)
	}
	if wrote, err := r.ensureFinalizer(ctx, route); err != nil || wrote {
		// The write brings the Route back with its finalizer.
		return ctrl.Result{}, err
	}
	var requeue time.Duration
	var written changes.Log
	err := knstatus.Reconcile(r.WithConfig(ctx), r.Client, r.Recorder, route, func(ctx context.Context, route *v1.Route) error {
		var err error
		requeue, err = r.reconcile(ctx, route, &written)
		return err
	})
	written.Record(r.Recorder, route)
	return ctrl.Result{RequeueAfter: requeue}, err
}

func (r *Reconciler) apiReader() client.Reader {
	if r.APIReader == nil {
		return r.Client
	}
	return r.APIReader
}

// reconcile returns how soon a gradual rollout needs the next step.
func (r *Reconciler) reconcile(ctx context.Context, route *v1.Route, written *changes.Log) (time.Duration, error) {
	url, err := resources.URL(ctx, route, "")
	if markConfigError(route, err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("route %s/%s: computing its URL from config-network's domain-template and config-domain: %w", route.Namespace, route.Name, err)
	}
	route.Status.URL = url
	route.Status.Address = &duckv1.Addressable{URL: resources.AddressURL(route)}

	// The apex Service is addressable whatever the traffic's state.
	activator, ips, err := r.applyService(ctx, route, written)
	if err != nil {
		return 0, err
	}

	// The HTTPRoute keeps the rollout's state: read it without the cache
	// if the cache does not have it (a user removed its label), once the
	// Route has served traffic (before, there is none: a new Route
	// reconciles several times while its revision gets Ready).
	var prev *resources.Rollout
	httproute := &gatewayv1.HTTPRoute{}
	key := client.ObjectKey{Namespace: route.Namespace, Name: names.HTTPRoute(route.Name)}
	if err := children.Get(ctx, r.Client, r.apiReader(), key, httproute, len(route.Status.Traffic) > 0); err == nil {
		prev = resources.ParseRollout(httproute.Annotations[resources.RolloutAnnotation])
	} else if !apierrors.IsNotFound(err) {
		return 0, fmt.Errorf("reading httproute %s/%s: %w", route.Namespace, route.Name, err)
	}
	in, err := r.lookup(ctx, route, prev)
	if err != nil {
		return 0, err
	}
	targets, terr := resources.ResolveTraffic(route, in)
	if terr != nil {
		// The traffic served so far stays as it is until every target
		// resolves (Knative never programs a partial split).
		terr.Mark(&route.Status)
		return 0, r.resyncTagSlices(ctx, route, written, activator)
	}
	rollout, next := resources.StepRollout(prev, resources.WantedRollout(targets), r.Clock.Now(), rolloutDuration(ctx, route))
	served := resources.ApplyRollout(targets, rollout, in)

	traffic, err := resources.StatusTraffic(ctx, route, served)
	var tags map[string]string
	if err == nil {
		tags, err = resources.TagNames(ctx, route, resources.Tags(served))
	}
	if markConfigError(route, err) {
		// As with unresolved targets, the traffic served so far stays.
		return 0, r.resyncTagSlices(ctx, route, written, activator)
	}
	if err != nil {
		return 0, fmt.Errorf("route %s/%s: computing tag URLs from config-network's tag-template: %w", route.Namespace, route.Name, err)
	}
	route.Status.Traffic = traffic
	route.Status.MarkTrafficAssigned()

	if err := r.applyRouting(ctx, route, written, served, rollout, ips); err != nil {
		route.Status.MarkIngressNotConfigured()
		return 0, err
	}
	if err := r.applyTags(ctx, route, written, tags, served, activator); err != nil {
		if !errors.Is(err, errNotOwned) { // marked with the name taken
			route.Status.MarkIngressNotConfigured()
		}
		return 0, err
	}
	route.Status.MarkTLSNotEnabled(v1.ExternalDomainTLSNotEnabledMessage)
	if rollout.InProgress() {
		route.Status.MarkIngressRolloutInProgress()
	} else {
		route.Status.PropagateIngressStatus(programmed())
	}

	if err := r.syncRoutingState(ctx, route, served); err != nil {
		return 0, err
	}
	return next, nil
}

// errorConfigReason is Knative's AllTrafficAssigned reason for a host or
// tag name the templates make invalid.
const errorConfigReason = "ErrorConfig"

// markConfigError marks AllTrafficAssigned False when err is a name the
// Route's names and config-network's templates make invalid, as Knative
// does (domains.ErrorDomainName), and reports whether it did. A retry cannot
// help: the Route or config-network must change, and either change brings
// the Route back, so the error is not returned for a retry.
func markConfigError(route *v1.Route, err error) bool {
	if !errors.Is(err, domains.ErrorDomainName) {
		return false
	}
	route.Status.MarkRevisionTargetTrafficError(errorConfigReason, err.Error())
	return true
}

// programmed is the ingress status once the Service, HTTPRoute and Ingress
// are written: csclr's own gateway and Linkerd read them directly, so there
// is no separate load balancer to wait for.
func programmed() netv1alpha1.IngressStatus {
	s := netv1alpha1.IngressStatus{}
	s.InitializeConditions()
	s.MarkNetworkConfigured()
	s.MarkLoadBalancerReady(nil, nil)
	return s
}

// rolloutDuration is the Route's serving.knative.dev/rollout-duration, or
// config-network's rollout-duration.
func rolloutDuration(ctx context.Context, route *v1.Route) time.Duration {
	if v := serving.RolloutDurationAnnotation.Value(route.Annotations); v != "" {
		// Validation has checked the format; a bad value means no rollout.
		d, _ := time.ParseDuration(v)
		return d
	}
	return time.Duration(routecfg.FromContext(ctx).Network.RolloutDurationSecs) * time.Second
}

// lookup reads the Configurations and Revisions the Route's targets name.
// Revisions a rollout in progress (prev) still sends traffic to are read too.
func (r *Reconciler) lookup(ctx context.Context, route *v1.Route, prev *resources.Rollout) (resources.Lookup, error) {
	in := resources.Lookup{Configurations: map[string]*v1.Configuration{}, Revisions: map[string]*v1.Revision{}}
	getRev := func(name string) error {
		if _, done := in.Revisions[name]; done || name == "" {
			return nil
		}
		rev := &v1.Revision{}
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: route.Namespace, Name: name}, rev); err != nil {
			return client.IgnoreNotFound(err)
		}
		in.Revisions[name] = rev
		return nil
	}
	for _, tt := range route.Spec.Traffic {
		if tt.RevisionName != "" {
			if err := getRev(tt.RevisionName); err != nil {
				return in, fmt.Errorf("reading revision %s/%s: %w", route.Namespace, tt.RevisionName, err)
			}
			continue
		}
		if _, done := in.Configurations[tt.ConfigurationName]; done || tt.ConfigurationName == "" {
			continue
		}
		cfg := &v1.Configuration{}
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: route.Namespace, Name: tt.ConfigurationName}, cfg); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return in, fmt.Errorf("reading configuration %s/%s: %w", route.Namespace, tt.ConfigurationName, err)
		}
		in.Configurations[cfg.Name] = cfg
		if err := getRev(cfg.Status.LatestReadyRevisionName); err != nil {
			return in, fmt.Errorf("reading revision %s/%s: %w", route.Namespace, cfg.Status.LatestReadyRevisionName, err)
		}
	}
	if prev != nil {
		for _, c := range prev.Configurations {
			for _, s := range c.Revisions {
				if err := getRev(s.RevisionName); err != nil {
					return in, fmt.Errorf("reading revision %s/%s: %w", route.Namespace, s.RevisionName, err)
				}
			}
		}
	}
	return in, nil
}
