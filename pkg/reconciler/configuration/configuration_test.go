package configuration

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"knative.dev/pkg/apis"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"knative.dev/serving/pkg/gc"
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
		WithStatusSubresource(&v1.Configuration{}, &v1.Revision{}).
		WithObjects(objs...).Build()
	store := config.NewStore(config.DefaultSystemNamespace)
	return &Reconciler{
		Client: c, Recorder: events.NewFakeRecorder(100),
		Clock:      clocktesting.NewFakePassiveClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		WithConfig: store.ToContext,
		GC:         func() *gc.Config { return store.Load().GC },
	}, c
}

func testConfig() *v1.Configuration {
	return &v1.Configuration{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hello", UID: "cfg-uid", Generation: 1,
			Labels: map[string]string{"config-only": "x"}},
		Spec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
			Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "img"}}}},
		}},
	}
}

func reconcileOnce(t *testing.T, r *Reconciler) {
	t.Helper()
	if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "hello"}}); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
}

func TestReconcileStampsRevision(t *testing.T) {
	r, c := newReconciler(t, testConfig())
	reconcileOnce(t, r)
	ctx := context.Background()
	rev := &v1.Revision{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "hello-00001"}, rev); err != nil {
		t.Fatalf("revision: %v", err)
	}
	if rev.Labels["serving.knative.dev/configurationGeneration"] != "1" || rev.Labels["config-only"] != "" {
		t.Errorf("revision labels = %v", rev.Labels)
	}
	cfg := &v1.Configuration{}
	_ = c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "hello"}, cfg)
	if cfg.Status.LatestCreatedRevisionName != "hello-00001" || cfg.Status.LatestReadyRevisionName != "" {
		t.Errorf("status = %+v", cfg.Status.ConfigurationStatusFields)
	}

	// The revision fails: the Configuration says why.
	rev.Status.InitializeConditions()
	rev.Status.MarkContainerHealthyFalse("ExitCode1", "container exited with 1")
	if err := c.Status().Update(ctx, rev); err != nil {
		t.Fatal(err)
	}
	reconcileOnce(t, r)
	_ = c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "hello"}, cfg)
	ready := cfg.Status.GetCondition(apis.ConditionReady)
	if ready == nil || !ready.IsFalse() || ready.Reason != "RevisionFailed" || ready.Message == "" {
		t.Errorf("Ready = %+v, want False/RevisionFailed with a message", ready)
	}

	// The revision becomes ready: latestReady follows.
	rev.Status.Conditions = nil
	rev.Status.InitializeConditions()
	rev.Status.MarkResourcesAvailableTrue()
	rev.Status.MarkContainerHealthyTrue()
	rev.Status.ObservedGeneration = rev.Generation
	if err := c.Status().Update(ctx, rev); err != nil {
		t.Fatal(err)
	}
	reconcileOnce(t, r)
	_ = c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "hello"}, cfg)
	if !cfg.IsReady() || cfg.Status.LatestReadyRevisionName != "hello-00001" {
		t.Errorf("configuration not ready on hello-00001: %+v", cfg.Status)
	}
}

func TestReconcileRevisionNameTaken(t *testing.T) {
	cfg := testConfig()
	cfg.Spec.Template.Name = "hello-blue"
	foreign := &v1.Revision{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hello-blue"}}
	r, c := newReconciler(t, cfg, foreign)
	reconcileOnce(t, r)
	got := &v1.Configuration{}
	_ = c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "hello"}, got)
	ready := got.Status.GetCondition(apis.ConditionReady)
	if ready == nil || !ready.IsFalse() || ready.Reason != "RevisionFailed" {
		t.Errorf("Ready = %+v, want False/RevisionFailed", ready)
	}
}
