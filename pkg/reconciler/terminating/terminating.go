// Package terminating keeps the reconcilers from fighting a namespace's
// deletion. While a namespace terminates, the namespace controller deletes
// its objects kind by kind; every child it deletes wakes the child's owner,
// whose reconciler creates it again and is refused (403, "being
// terminated"). Retried with back-off and each reported in an Event (also
// refused), 200 deleted Services cost the API server some 12 000 refused
// requests and the deletion took longer. A refusal for that reason ends the
// reconcile quietly: the owner is about to be deleted too.
package terminating

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Is reports whether err (or an error it wraps) is the API server refusing
// to create an object in a namespace that is being deleted.
func Is(err error) bool {
	return err != nil && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause)
}

// Reconciler returns r, except that a reconcile failing because its
// namespace is being deleted succeeds (no retry, no error logged).
func Reconciler(r reconcile.Reconciler) reconcile.Reconciler {
	return reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		res, err := r.Reconcile(ctx, req)
		if Is(err) {
			log.FromContext(ctx).V(1).Info("not retrying: the namespace is being deleted", "error", err.Error())
			return reconcile.Result{}, nil
		}
		return res, err
	})
}
