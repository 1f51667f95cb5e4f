package service

import (
	"context"

	v1 "knative.dev/serving/pkg/apis/serving/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"csclr.dev/csclr/pkg/reconciler/terminating"
)

// Options are what the Service reconciler needs from its caller.
type Options struct {
	// WithConfig puts the cluster configuration into the context
	// (config.Store.ToContext).
	WithConfig func(context.Context) context.Context
}

// SetupWithManager registers the Service reconciler. It wakes on changes to a
// Service's spec, labels or annotations (not on its own status writes) and on
// any change to the Configuration or Route it owns.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	c, recorder, err := terminating.ForManager(mgr, "service-controller")
	if err != nil {
		return err
	}
	r := &Reconciler{
		Client:     c,
		Recorder:   recorder,
		WithConfig: opts.WithConfig,
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("service").
		For(&v1.Service{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{},
			predicate.LabelChangedPredicate{},
			predicate.AnnotationChangedPredicate{},
		))).
		Owns(&v1.Configuration{}).
		Owns(&v1.Route{}).
		Complete(terminating.Reconciler(r))
}
