// Package service reconciles Knative Services: each owns a Configuration and
// a Route of the same name, and reports their state in its status.
package service

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"csclr.dev/csclr/pkg/names"
	"csclr.dev/csclr/pkg/reconciler/changes"
	configresources "csclr.dev/csclr/pkg/reconciler/configuration/resources"
	"csclr.dev/csclr/pkg/reconciler/knstatus"
	"csclr.dev/csclr/pkg/reconciler/service/resources"
)

// Reconciler makes a Service's Configuration and Route agree with it.
type Reconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	// WithConfig puts the cluster configuration into the context
	// (config.Store.ToContext).
	WithConfig func(context.Context) context.Context
}

// Reconcile implements reconcile.Reconciler.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	svc := &v1.Service{}
	if err := r.Client.Get(ctx, req.NamespacedName, svc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if svc.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	var written changes.Log
	err := knstatus.Reconcile(r.WithConfig(ctx), r.Client, r.Recorder, svc, func(ctx context.Context, svc *v1.Service) error {
		return r.reconcile(ctx, svc, &written)
	})
	written.Record(r.Recorder, svc)
	return ctrl.Result{}, err
}

func (r *Reconciler) reconcile(ctx context.Context, svc *v1.Service, written *changes.Log) error {
	config, err := r.configuration(ctx, svc, written)
	if err != nil {
		return err
	}
	if config.Generation != config.Status.ObservedGeneration {
		svc.Status.MarkConfigurationNotReconciled()
		// A BYO revision name must not reach the Route before the
		// Configuration has stamped that revision: wait for it.
		if config.Spec.GetTemplate().Name != "" {
			return nil
		}
	} else {
		svc.Status.PropagateConfigurationStatus(&config.Status)
	}

	if taken, err := r.revisionNameTaken(ctx, config); err != nil {
		return err
	} else if taken {
		svc.Status.MarkRevisionNameTaken(config.Spec.GetTemplate().Name)
		return nil
	}

	route, err := r.route(ctx, svc, written)
	if err != nil {
		return err
	}
	if route.Generation != route.Status.ObservedGeneration {
		svc.Status.MarkRouteNotReconciled()
	} else {
		svc.Status.PropagateRouteStatus(&route.Status)
	}
	if rc := svc.Status.GetCondition(v1.ServiceConditionRoutesReady); rc.IsTrue() && !resources.RouteCaughtUp(config, route) {
		svc.Status.MarkRouteNotYetReady()
	}
	return nil
}

// revisionNameTaken reports whether the template's BYO name belongs to a
// revision this Configuration may not use.
func (r *Reconciler) revisionNameTaken(ctx context.Context, config *v1.Configuration) (bool, error) {
	name := config.Spec.GetTemplate().Name
	if name == "" {
		return false, nil
	}
	rev := &v1.Revision{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: config.Namespace, Name: name}, rev)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading revision %s/%s: %w", config.Namespace, name, err)
	}
	return configresources.CheckNameAvailability(config, rev) != nil, nil
}

func (r *Reconciler) configuration(ctx context.Context, svc *v1.Service, written *changes.Log) (*v1.Configuration, error) {
	name := names.Configuration(svc.Name)
	existing := &v1.Configuration{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: svc.Namespace, Name: name}, existing)
	if apierrors.IsNotFound(err) {
		return create(r, ctx, svc, written, resources.MakeConfiguration(svc, nil))
	}
	if err != nil {
		return nil, fmt.Errorf("reading configuration %s/%s: %w", svc.Namespace, name, err)
	}
	if !metav1.IsControlledBy(existing, svc) {
		svc.Status.MarkConfigurationNotOwned(name)
		return nil, fmt.Errorf("service %s/%s does not own configuration %q: delete or rename that configuration", svc.Namespace, svc.Name, name)
	}
	want := resources.MakeConfiguration(svc, existing)
	defaulted := existing.DeepCopy()
	defaulted.SetDefaults(ctx)
	if resources.MetaAndSpecEqual(want, defaulted, want.Spec, defaulted.Spec) {
		return existing, nil
	}
	defaulted.Spec, defaulted.Labels, defaulted.Annotations = want.Spec, want.Labels, want.Annotations
	return update(r, ctx, svc, written, defaulted)
}

func (r *Reconciler) route(ctx context.Context, svc *v1.Service, written *changes.Log) (*v1.Route, error) {
	name := names.Route(svc.Name)
	existing := &v1.Route{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: svc.Namespace, Name: name}, existing)
	if apierrors.IsNotFound(err) {
		return create(r, ctx, svc, written, resources.MakeRoute(svc))
	}
	if err != nil {
		return nil, fmt.Errorf("reading route %s/%s: %w", svc.Namespace, name, err)
	}
	if !metav1.IsControlledBy(existing, svc) {
		svc.Status.MarkRouteNotOwned(name)
		return nil, fmt.Errorf("service %s/%s does not own route %q: delete or rename that route", svc.Namespace, svc.Name, name)
	}
	want := resources.MakeRoute(svc)
	defaulted := existing.DeepCopy()
	defaulted.SetDefaults(ctx)
	if resources.MetaAndSpecEqual(want, defaulted, want.Spec, defaulted.Spec) {
		return existing, nil
	}
	defaulted.Spec, defaulted.Labels, defaulted.Annotations = want.Spec, want.Labels, want.Annotations
	return update(r, ctx, svc, written, defaulted)
}

// create and update write a child and note it in written (one event per
// reconcile); failures are recorded on the Service at once.
func create[T client.Object](r *Reconciler, ctx context.Context, svc *v1.Service, written *changes.Log, obj T) (T, error) {
	kind := kindOf(obj)
	if err := r.Client.Create(ctx, obj); err != nil {
		changes.CreationFailed(r.Recorder, svc, kind, obj, err)
		var zero T
		return zero, fmt.Errorf("creating %s %s/%s for service %s: %w", kind, obj.GetNamespace(), obj.GetName(), svc.Name, err)
	}
	written.Created(kind, obj)
	return obj, nil
}

func update[T client.Object](r *Reconciler, ctx context.Context, svc *v1.Service, written *changes.Log, obj T) (T, error) {
	kind := kindOf(obj)
	if err := r.Client.Update(ctx, obj); err != nil {
		changes.UpdateFailed(r.Recorder, svc, kind, obj, err)
		var zero T
		return zero, fmt.Errorf("updating %s %s/%s for service %s: %w", kind, obj.GetNamespace(), obj.GetName(), svc.Name, err)
	}
	written.Updated(kind, obj)
	return obj, nil
}

func kindOf(obj client.Object) string {
	switch obj.(type) {
	case *v1.Configuration:
		return "Configuration"
	case *v1.Route:
		return "Route"
	}
	return fmt.Sprintf("%T", obj)
}
