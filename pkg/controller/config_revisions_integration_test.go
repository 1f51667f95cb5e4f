//go:build integration

package controller

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"csclr.dev/csclr/internal/testenv"
	"csclr.dev/csclr/pkg/config"
	"csclr.dev/csclr/pkg/names"
	"csclr.dev/csclr/pkg/reconciler/revision/resources"
	"csclr.dev/csclr/pkg/tracing"
)

// Editing config-deployment or config-tracing updates the Deployments of
// existing revisions at once, with nothing else about them changing (no
// new Revision, no edit of the Service). It runs the whole controller as
// register wires it (the suite's manager runs no Revision reconciler), on
// an apiserver of its own so that it reconciles only this test's objects.
func TestConfigChangesReachExistingRevisions(t *testing.T) {
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.Start(t, scheme)
	k8s := env.Client
	const sys, ns = config.DefaultSystemNamespace, "app"
	ctx := t.Context()
	mgr, err := env.NewManager(func(o *ctrl.Options) { o.Cache = CacheOptions(sys) })
	if err != nil {
		t.Fatal(err)
	}
	if err := register(mgr, config.NewStore(sys), Options{SystemNamespace: sys}.withDefaults()); err != nil {
		t.Fatal(err)
	}
	testenv.RunManager(t, mgr)
	for _, n := range []string{sys, ns} {
		if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}); err != nil {
			t.Fatal(err)
		}
	}

	// ko.local is among Knative's registries-skipping-tag-resolving: no
	// registry is asked for a digest.
	svc := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hello"},
		Spec: v1.ServiceSpec{ConfigurationSpec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
			Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "ko.local/hello:v1"}}}},
		}}},
	}
	if err := k8s.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	rev := &v1.Revision{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hello-00001"}}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names.Deployment(rev.Name)}}
	depKey := client.ObjectKeyFromObject(dep)
	waitFor(t, "the revision's Deployment", func() error { return k8s.Get(ctx, depKey, dep) })
	// The reconcilers are done with the revision, and it has no pods, so no
	// requeue is due: from here on only the config watch can update the
	// Deployment (without the settling, this test passes without it).
	testenv.WaitSettled(t, k8s, 3*time.Second, 30*time.Second, rev, dep)
	defaults := config.Default().Deployment
	if got := queueOf(dep).Image; got != defaults.QueueSidecarImage || *dep.Spec.ProgressDeadlineSeconds != int32(defaults.ProgressDeadline.Seconds()) {
		t.Fatalf("before the change: queue image %s, progress deadline %ds; want the defaults %s, %s",
			got, *dep.Spec.ProgressDeadlineSeconds, defaults.QueueSidecarImage, defaults.ProgressDeadline)
	}

	createConfigMap(t, k8s, sys, config.DeploymentName, map[string]string{
		"progress-deadline": "123s", "queue-sidecar-image": "registry.example/queue:v2",
	})
	waitFor(t, "the Deployment following config-deployment", func() error {
		if err := k8s.Get(ctx, depKey, dep); err != nil {
			return err
		}
		if img, pd := queueOf(dep).Image, *dep.Spec.ProgressDeadlineSeconds; img != "registry.example/queue:v2" || pd != 123 {
			return fmt.Errorf("queue image %s, progress deadline %ds", img, pd)
		}
		return nil
	})

	createConfigMap(t, k8s, sys, tracing.ConfigName, map[string]string{
		tracing.BackendKey: "otlp", tracing.EndpointKey: "http://collector.example:4318/v1/traces",
	})
	waitFor(t, "the queue sidecar following config-tracing", func() error {
		if err := k8s.Get(ctx, depKey, dep); err != nil {
			return err
		}
		for _, e := range queueOf(dep).Env {
			if e.Name == tracing.EnvBackend && e.Value == "otlp" {
				return nil
			}
		}
		return fmt.Errorf("no %s=otlp in the queue sidecar's environment", tracing.EnvBackend)
	})

	after := &v1.Revision{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(rev), after); err != nil {
		t.Fatal(err)
	}
	if after.Generation != rev.Generation {
		t.Errorf("revision generation %d → %d: its spec changed", rev.Generation, after.Generation)
	}
	err = k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "hello-00002"}, &v1.Revision{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("a configuration change made a second revision (get: %v)", err)
	}
}

func queueOf(dep *appsv1.Deployment) *corev1.Container {
	for i, c := range dep.Spec.Template.Spec.Containers {
		if c.Name == resources.QueueContainerName {
			return &dep.Spec.Template.Spec.Containers[i]
		}
	}
	return &corev1.Container{}
}

// createConfigMap creates the ConfigMap ns/name with data.
func createConfigMap(t *testing.T, k8s client.Client, ns, name string, data map[string]string) {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
	if err := k8s.Create(context.Background(), cm); err != nil {
		t.Fatalf("creating ConfigMap %s/%s: %v", ns, name, err)
	}
}

// waitFor polls check until it returns nil or 30s pass.
func waitFor(t *testing.T, what string, check func() error) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, what, check)
}
