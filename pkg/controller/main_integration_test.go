//go:build integration

package controller_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"csclr.dev/csclr/internal/testenv"
	"csclr.dev/csclr/pkg/config"
	"csclr.dev/csclr/pkg/controller"
)

// One apiserver and one manager with the Service, Configuration and Route
// reconcilers for all tests; each test works in its own namespace. No
// Revision reconciler runs: tests mark Revisions ready themselves.
var (
	env   *testenv.Env
	k8s   client.Client
	nsSeq atomic.Int32
)

const system = config.DefaultSystemNamespace

func TestMain(m *testing.M) {
	scheme, err := controller.NewScheme()
	if err != nil {
		panic(err)
	}
	testenv.Main(m, testenv.Suite{
		Scheme:     scheme,
		Namespaces: []string{system},
		// The caches scoped as in production.
		Manager: func(o *ctrl.Options) { o.Cache = controller.CacheOptions(system) },
		Setup: func(_ context.Context, e *testenv.Env, mgr ctrl.Manager) error {
			env, k8s = e, e.Client
			return controller.RegisterCore(mgr, config.NewStore(system), system)
		},
	})
}

// namespace creates a fresh namespace for one test.
func namespace(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("it-%d", nsSeq.Add(1))
	if err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
	return name
}

// eventually polls check until it returns nil or 20s pass.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, what, check)
}

func get[T client.Object](t *testing.T, ns, name string, obj T) T {
	t.Helper()
	eventually(t, fmt.Sprintf("getting %T %s/%s", obj, ns, name), func() error {
		return k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj)
	})
	return obj
}

// markReady simulates the Revision reconciler: the revision becomes Ready.
func markReady(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, "marking revision "+name+" ready", func() error {
		rev := &v1.Revision{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, rev); err != nil {
			return err
		}
		rev.Status.InitializeConditions()
		rev.Status.MarkResourcesAvailableTrue()
		rev.Status.MarkContainerHealthyTrue()
		rev.Status.MarkActiveTrue()
		rev.Status.ObservedGeneration = rev.Generation
		return k8s.Status().Update(context.Background(), rev)
	})
}

// markFailed simulates a revision whose container cannot start.
func markFailed(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, "marking revision "+name+" failed", func() error {
		rev := &v1.Revision{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, rev); err != nil {
			return err
		}
		rev.Status.InitializeConditions()
		rev.Status.MarkContainerHealthyFalse("ExitCode1", "container exited with code 1")
		rev.Status.ObservedGeneration = rev.Generation
		return k8s.Status().Update(context.Background(), rev)
	})
}

func ksvc(ns, name, image string) *v1.Service {
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1.ServiceSpec{ConfigurationSpec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
			Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: image}}}},
		}}},
	}
}

// update re-reads obj, applies change and writes it, retrying on conflicts.
func update[T client.Object](t *testing.T, obj T, change func(T)) {
	t.Helper()
	eventually(t, fmt.Sprintf("updating %T %s", obj, obj.GetName()), func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		change(obj)
		return k8s.Update(context.Background(), obj)
	})
}

// serviceCondition waits until the Service has observed its generation and
// the condition has the given status (and reason, if not empty).
func waitServiceCondition(t *testing.T, ns, name string, typ apis.ConditionType, status corev1.ConditionStatus, reason string) *v1.Service {
	t.Helper()
	svc := &v1.Service{}
	eventually(t, fmt.Sprintf("service %s/%s %s=%s %s", ns, name, typ, status, reason), func() error {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, svc); err != nil {
			return err
		}
		c := svc.Status.GetCondition(typ)
		if svc.Status.ObservedGeneration != svc.Generation || c == nil || c.Status != status || (reason != "" && c.Reason != reason) {
			return fmt.Errorf("observedGeneration %d/%d, %s = %+v", svc.Status.ObservedGeneration, svc.Generation, typ, c)
		}
		return nil
	})
	return svc
}
