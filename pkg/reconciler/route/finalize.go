package route

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"csclr.dev/csclr/pkg/names"
	"csclr.dev/csclr/pkg/reconciler/changes"
)

// Finalizer holds a Route until the routing state it recorded on
// Configurations and Revisions is cleared, so that revisions it routed can
// become "reserve" and be collected (Knative uses the same name).
const Finalizer = names.RouteFinalizer

// ensureFinalizer adds the finalizer; it reports whether it wrote the Route.
// Routes a Service creates are born with it, so this writes only Routes
// created on their own.
func (r *Reconciler) ensureFinalizer(ctx context.Context, route *v1.Route) (bool, error) {
	if controllerutil.ContainsFinalizer(route, Finalizer) {
		return false, nil
	}
	orig := route.DeepCopy()
	controllerutil.AddFinalizer(route, Finalizer)
	if err := r.patchFinalizers(ctx, orig, route); err != nil {
		return false, fmt.Errorf("adding finalizer %s to route %s/%s: %w", Finalizer, route.Namespace, route.Name, err)
	}
	return true, nil
}

// patchFinalizers writes route's finalizers (changed from orig) and records
// it as Knative's generated reconcilers do: "FinalizerUpdate", or the
// warning "FinalizerUpdateFailed" (not for a Conflict, which the retry
// resolves, nor NotFound: the Route is gone).
func (r *Reconciler) patchFinalizers(ctx context.Context, orig, route *v1.Route) error {
	err := r.Client.Patch(ctx, route, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
	switch {
	case err == nil:
		changes.Normal(r.Recorder, route, nil, changes.ReasonFinalizerUpdate, "UpdateFinalizers", "Updated %q finalizers", route.Name)
	case !apierrors.IsConflict(err) && !apierrors.IsNotFound(err):
		changes.Warn(r.Recorder, orig, nil, changes.ReasonFinalizerUpdateFailed, "UpdateFinalizers", "Failed to update finalizers for %q: %v", route.Name, err)
	}
	return err
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
	if err := r.patchFinalizers(ctx, orig, route); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("removing finalizer %s from route %s/%s: %w", Finalizer, route.Namespace, route.Name, err)
	}
	return nil
}
