package service

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"knative.dev/pkg/apis"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"csclr.dev/csclr/pkg/config"
)

func newReconciler(t *testing.T, objs ...client.Object) (*Reconciler, client.Client) {
	t.Helper()
	s := runtime.NewScheme()
	if err := v1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(s).
		WithStatusSubresource(&v1.Service{}, &v1.Configuration{}, &v1.Route{}, &v1.Revision{}).
		WithObjects(objs...).Build()
	store := config.NewStore(config.DefaultSystemNamespace)
	return &Reconciler{Client: c, Recorder: events.NewFakeRecorder(100), WithConfig: store.ToContext}, c
}

func testService() *v1.Service {
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hello", UID: "svc-uid", Generation: 1,
			Labels: map[string]string{"team": "a"}},
		Spec: v1.ServiceSpec{ConfigurationSpec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
			Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "img"}}}},
		}}},
	}
}

func reconcileOnce(t *testing.T, r *Reconciler) {
	t.Helper()
	if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "hello"}}); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
}

func TestReconcileCreatesChildren(t *testing.T) {
	r, c := newReconciler(t, testService())
	reconcileOnce(t, r)
	ctx := context.Background()
	key := client.ObjectKey{Namespace: "ns", Name: "hello"}

	cfg := &v1.Configuration{}
	if err := c.Get(ctx, key, cfg); err != nil {
		t.Fatalf("configuration: %v", err)
	}
	if cfg.Labels["serving.knative.dev/service"] != "hello" || cfg.Labels["team"] != "a" {
		t.Errorf("configuration labels = %v", cfg.Labels)
	}
	if cfg.Spec.Template.Spec.Containers[0].Name != "user-container" {
		t.Errorf("configuration template not defaulted: %+v", cfg.Spec.Template.Spec.Containers[0])
	}
	route := &v1.Route{}
	if err := c.Get(ctx, key, route); err != nil {
		t.Fatalf("route: %v", err)
	}
	if len(route.Spec.Traffic) != 1 || route.Spec.Traffic[0].ConfigurationName != "hello" || *route.Spec.Traffic[0].Percent != 100 {
		t.Errorf("route traffic = %+v", route.Spec.Traffic)
	}

	svc := &v1.Service{}
	if err := c.Get(ctx, key, svc); err != nil {
		t.Fatal(err)
	}
	if svc.Status.ObservedGeneration != 1 {
		t.Errorf("observedGeneration = %d, want 1", svc.Status.ObservedGeneration)
	}
	// (The fake client does not set metadata.generation, so the OutOfDate
	// reason is checked against a real apiserver in the integration tests.)
	if got := svc.Status.GetCondition(apis.ConditionReady); got == nil || !got.IsUnknown() {
		t.Errorf("Ready = %+v, want Unknown", got)
	}

	// A second pass with nothing changed writes nothing.
	rv := svc.ResourceVersion
	reconcileOnce(t, r)
	if err := c.Get(ctx, key, svc); err != nil {
		t.Fatal(err)
	}
	if svc.ResourceVersion != rv {
		t.Errorf("an idle reconcile wrote the service (resourceVersion %s -> %s)", rv, svc.ResourceVersion)
	}
}

func TestReconcileNotOwned(t *testing.T) {
	foreign := &v1.Configuration{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hello"}}
	r, c := newReconciler(t, testService(), foreign)
	if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "hello"}}); err == nil {
		t.Fatal("want an error for a configuration the service does not own")
	}
	svc := &v1.Service{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "hello"}, svc); err != nil {
		t.Fatal(err)
	}
	if got := svc.Status.GetCondition(v1.ServiceConditionConfigurationsReady); got == nil || got.Reason != "NotOwned" {
		t.Errorf("ConfigurationsReady = %+v, want NotOwned", got)
	}
}

func TestReconcilePropagatesReady(t *testing.T) {
	r, c := newReconciler(t, testService())
	reconcileOnce(t, r)
	ctx := context.Background()
	key := client.ObjectKey{Namespace: "ns", Name: "hello"}

	cfg := &v1.Configuration{}
	_ = c.Get(ctx, key, cfg)
	cfg.Status.InitializeConditions()
	cfg.Status.ObservedGeneration = cfg.Generation
	cfg.Status.SetLatestCreatedRevisionName("hello-00001")
	cfg.Status.SetLatestReadyRevisionName("hello-00001")
	if err := c.Status().Update(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	route := &v1.Route{}
	_ = c.Get(ctx, key, route)
	route.Status.InitializeConditions()
	route.Status.ObservedGeneration = route.Generation
	route.Status.MarkTrafficAssigned()
	route.Status.MarkTLSNotEnabled(v1.ExternalDomainTLSNotEnabledMessage)
	route.Status.PropagateIngressStatus(readyIngressStatus())
	route.Status.URL = &apis.URL{Scheme: "http", Host: "hello.ns.svc.cluster.local"}
	if err := c.Status().Update(ctx, route); err != nil {
		t.Fatal(err)
	}

	// Status traffic still empty: the route has not caught up.
	reconcileOnce(t, r)
	svc := &v1.Service{}
	_ = c.Get(ctx, key, svc)
	if got := svc.Status.GetCondition(v1.ServiceConditionRoutesReady); got == nil || got.IsTrue() {
		t.Errorf("RoutesReady = %+v, want not true before the route serves the latest revision", got)
	}

	route.Status.Traffic = []v1.TrafficTarget{{RevisionName: "hello-00001", Percent: route.Spec.Traffic[0].Percent, LatestRevision: route.Spec.Traffic[0].LatestRevision}}
	if err := c.Status().Update(ctx, route); err != nil {
		t.Fatal(err)
	}
	reconcileOnce(t, r)
	_ = c.Get(ctx, key, svc)
	if !svc.IsReady() {
		t.Errorf("service not ready: %+v", svc.Status.Conditions)
	}
	if svc.Status.URL.String() != "http://hello.ns.svc.cluster.local" || svc.Status.LatestReadyRevisionName != "hello-00001" {
		t.Errorf("status = %+v", svc.Status)
	}
}
