package terminating

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// refused is the error the NamespaceLifecycle admission plugin returns.
func refused() error {
	err := apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "d",
		errors.New("unable to create new content in namespace ns because it is being terminated"))
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
		Type: corev1.NamespaceTerminatingCause, Field: "metadata.namespace",
	})
	return err
}

func TestReconciler(t *testing.T) {
	other := apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "p", errors.New("RBAC says no"))
	for _, tc := range []struct {
		name    string
		res     reconcile.Result
		err     error
		wantRes reconcile.Result
		wantErr bool
	}{
		{name: "success", res: reconcile.Result{RequeueAfter: time.Second}, wantRes: reconcile.Result{RequeueAfter: time.Second}},
		{name: "namespace terminating", err: refused()},
		{name: "namespace terminating, wrapped", err: fmt.Errorf("creating Deployment: %w", refused())},
		{name: "namespace terminating, joined", err: errors.Join(refused(), errors.New("status"))},
		{name: "another 403", err: other, wantErr: true},
		{name: "another error", err: errors.New("boom"), res: reconcile.Result{RequeueAfter: time.Minute}, wantRes: reconcile.Result{RequeueAfter: time.Minute}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) { return tc.res, tc.err })
			res, err := Reconciler(inner).Reconcile(context.Background(), reconcile.Request{})
			if (err != nil) != tc.wantErr || res != tc.wantRes {
				t.Fatalf("got %+v, %v; want %+v, error %t", res, err, tc.wantRes, tc.wantErr)
			}
		})
	}
	if Is(nil) {
		t.Error("Is(nil) = true")
	}
}
