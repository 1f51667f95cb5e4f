// Package knstatus runs a reconcile step the way Knative's generated
// reconcilers do (defaults and initial conditions before, observedGeneration
// and transition times after) and writes the status only when it changed.
package knstatus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	pkgreconciler "knative.dev/pkg/reconciler"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"csclr.dev/csclr/pkg/reconciler/changes"
)

// Object is a Knative kind stored in the API server.
type Object[T any] interface {
	client.Object
	duckv1.KRShaped
	DeepCopy() T
}

// Reconcile runs step on obj and then writes obj's status if step changed it.
// ctx must carry the cluster config (config.Store.ToContext) so that the
// defaults applied in memory are the cluster's. The defaulted spec is never
// written: only the status subresource is patched, so observedGeneration and
// the conditions are written together in one request. A failed status write
// is recorded on obj through rec (Knative's Warning "UpdateFailed"); rec may
// be nil.
func Reconcile[T Object[T]](ctx context.Context, c client.Client, rec events.EventRecorder, obj T, step func(context.Context, T) error) error {
	orig := obj.DeepCopy()
	pkgreconciler.PreProcessReconcile(ctx, obj)
	stepErr := step(ctx, obj)
	pkgreconciler.PostProcessReconcile(ctx, obj, orig)
	if err := PatchStatus(ctx, c, orig, obj); err != nil {
		cause := errors.Unwrap(err) // the apiserver's answer
		if cause == nil {
			cause = err
		}
		changes.StatusUpdateFailed(rec, obj, cause)
		return errors.Join(stepErr, err)
	}
	return stepErr
}

// PatchStatus sends a merge patch of the status difference between orig and
// obj to the status subresource, and nothing when the status is unchanged.
func PatchStatus(ctx context.Context, c client.Client, orig, obj client.Object) error {
	patch, err := client.MergeFrom(orig).Data(obj)
	if err != nil {
		return fmt.Errorf("computing the status patch of %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(patch, &fields); err != nil {
		return fmt.Errorf("reading the status patch of %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
	}
	status, ok := fields["status"]
	if !ok {
		return nil
	}
	body, _ := json.Marshal(map[string]json.RawMessage{"status": status})
	if err := c.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, body)); err != nil {
		return fmt.Errorf("updating the status of %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}
