package configuration

import (
	"context"

	"k8s.io/utils/clock"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"knative.dev/serving/pkg/gc"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"csclr.dev/csclr/pkg/reconciler/terminating"
)

// Options are what the Configuration reconciler needs from its caller.
type Options struct {
	// WithConfig puts the cluster configuration into the context.
	WithConfig func(context.Context) context.Context
	// GC returns the current config-gc settings.
	GC func() *gc.Config
	// Clock stamps routing-state changes and ages revisions; nil is the
	// real clock.
	Clock clock.PassiveClock
}

// SetupWithManager registers the Configuration reconciler: it wakes on spec
// and metadata changes of a Configuration and on any change to its Revisions.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	c, recorder, err := terminating.ForManager(mgr, "configuration-controller")
	if err != nil {
		return err
	}
	r := &Reconciler{
		Client:     c,
		Recorder:   recorder,
		Clock:      opts.Clock,
		WithConfig: opts.WithConfig,
		GC:         opts.GC,
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("configuration").
		For(&v1.Configuration{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{},
			predicate.LabelChangedPredicate{},
			predicate.AnnotationChangedPredicate{},
		))).
		Owns(&v1.Revision{}).
		Complete(terminating.Reconciler(r))
}
