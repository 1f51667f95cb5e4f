package route

import (
	"context"
	"fmt"

	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"csclr.dev/csclr/pkg/names"
)

// Finalizer holds a Route until the routing state it recorded on
// Configurations and Revisions is cleared, so that revisions it routed can
// become "reserve" and be collected (Knative uses the same name).
const Finalizer = names.RouteFinalizer

// ensureFinalizer adds the finalizer; it reports whether it wrote the Route.
func (r *Reconciler) ensureFinalizer(ctx context.Context, route *v1.Route) (bool, error) {
	if controllerutil.ContainsFinalizer(route, Finalizer) {
		return false, nil
	}
	orig := route.DeepCopy()
	controllerutil.AddFinalizer(route, Finalizer)
	if err := r.Client.Patch(ctx, route, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return false, fmt.Errorf("adding finalizer %s to route %s/%s: %w", Finalizer, route.Namespace, route.Name, err)
	}
	return true, nil
}

// finalize clears the Route's routing state and releases the Route.
func (r *Reconciler) finalize(ctx context.Context, route *v1.Route) error {
	if !controllerutil.ContainsFinalizer(route, Finalizer) {
		return nil
	}
	if err := r.syncRoutingState(ctx, route, nil); err != nil {
		return err
	}
	orig := route.DeepCopy()
	controllerutil.RemoveFinalizer(route, Finalizer)
	if err := r.Client.Patch(ctx, route, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("removing finalizer %s from route %s/%s: %w", Finalizer, route.Namespace, route.Name, client.IgnoreNotFound(err))
	}
	return nil
}
