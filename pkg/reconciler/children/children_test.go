package children

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

func deployment(labels map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "d", Labels: labels}}
}

func TestCreateOrReadCreates(t *testing.T) {
	api := fake.NewClientBuilder().Build()
	created, err := CreateOrRead(context.Background(), api, api, deployment(map[string]string{"a": "1"}), &appsv1.Deployment{})
	if err != nil || !created {
		t.Fatalf("CreateOrRead = %v, %v; want created", created, err)
	}
	got := &appsv1.Deployment{}
	if err := api.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "d"}, got); err != nil || got.Labels["a"] != "1" {
		t.Errorf("stored %+v, %v", got.ObjectMeta, err)
	}
}

// The name is taken by an object the cache did not show (its labels were
// removed): the object is read as the API server has it, for the caller to
// check and update.
func TestCreateOrReadReadsTheTakenName(t *testing.T) {
	api := fake.NewClientBuilder().WithObjects(deployment(nil)).Build()
	existing := &appsv1.Deployment{}
	created, err := CreateOrRead(context.Background(), api, api, deployment(map[string]string{"a": "1"}), existing)
	if err != nil || created {
		t.Fatalf("CreateOrRead = %v, %v; want the existing object", created, err)
	}
	if existing.Name != "d" || existing.ResourceVersion == "" || len(existing.Labels) != 0 {
		t.Errorf("existing = %+v, want the stored object without labels", existing.ObjectMeta)
	}
}

func TestCreateOrReadErrors(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "d", nil)
	api := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Create: func(context.Context, client.WithWatch, client.Object, ...client.CreateOption) error { return forbidden },
	}).Build()
	if created, err := CreateOrRead(context.Background(), api, api, deployment(nil), &appsv1.Deployment{}); created || !apierrors.IsForbidden(err) {
		t.Errorf("create refused: CreateOrRead = %v, %v; want the Forbidden error", created, err)
	}

	// Deleted between the create and the read: both errors are kept, and
	// the next reconcile creates it.
	gone := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Create: func(_ context.Context, _ client.WithWatch, o client.Object, _ ...client.CreateOption) error {
			return apierrors.NewAlreadyExists(schema.GroupResource{Group: "apps", Resource: "deployments"}, o.GetName())
		},
	}).Build()
	created, err := CreateOrRead(context.Background(), gone, gone, deployment(nil), &appsv1.Deployment{})
	if created || !apierrors.IsAlreadyExists(err) || !strings.Contains(err.Error(), "not found") {
		t.Errorf("deleted meanwhile: CreateOrRead = %v, %v; want AlreadyExists, then NotFound", created, err)
	}
}

func TestGetFallsBackToTheReader(t *testing.T) {
	ctx := context.Background()
	key := client.ObjectKey{Namespace: "ns", Name: "d"}
	cached := fake.NewClientBuilder().WithObjects(deployment(map[string]string{"from": "cache"})).Build()
	api := fake.NewClientBuilder().WithObjects(deployment(map[string]string{"from": "api"})).Build()
	empty := fake.NewClientBuilder().Build()

	got := &appsv1.Deployment{}
	if err := Get(ctx, cached, api, key, got, true); err != nil || got.Labels["from"] != "cache" {
		t.Errorf("in the cache: got %v, %v; want the cached object", got.Labels, err)
	}
	got = &appsv1.Deployment{}
	if err := Get(ctx, empty, api, key, got, true); err != nil || got.Labels["from"] != "api" {
		t.Errorf("not in the cache: got %v, %v; want the API server's object", got.Labels, err)
	}
	if err := Get(ctx, empty, empty, key, &appsv1.Deployment{}, true); !apierrors.IsNotFound(err) {
		t.Errorf("nowhere: err = %v, want NotFound", err)
	}
	if err := Get(ctx, empty, api, key, &appsv1.Deployment{}, false); !apierrors.IsNotFound(err) {
		t.Errorf("cannot exist yet: err = %v, want the cache's NotFound without asking the reader", err)
	}
	failing := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
			return apierrors.NewServiceUnavailable("cache not synced")
		},
	}).Build()
	if err := Get(ctx, failing, api, key, &appsv1.Deployment{}, true); !apierrors.IsServiceUnavailable(err) {
		t.Errorf("cache error: err = %v, want it returned without asking the reader", err)
	}
}
