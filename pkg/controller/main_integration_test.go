//go:build integration

package controller_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"csclr.dev/csclr/internal/testenv"
	"csclr.dev/csclr/pkg/config"
	"csclr.dev/csclr/pkg/controller"
)

// One apiserver and one manager with the Service, Configuration and Route
// reconcilers for all tests; each test works in its own namespace. No
// Revision reconciler runs: tests mark Revisions ready themselves.
var (
	restCfg *rest.Config
	k8s     client.Client
	scheme  *runtime.Scheme
	nsSeq   atomic.Int32
)

const system = config.DefaultSystemNamespace

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapLevel())))
	var err error
	scheme, err = controller.NewScheme()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env, err := testenv.StartMain(scheme)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the test apiserver:", err)
		return 1
	}
	defer env.Stop()
	k8s, restCfg = env.Client, env.Config

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: system}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// TestNewRegistersEverything builds the full controller in this
		// process too; controller names are checked process-wide.
		Controller: ctrlconfig.Controller{SkipNameValidation: ptr.To(true)},
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			&corev1.ConfigMap{}: {Namespaces: map[string]cache.Config{system: {}}},
		}},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := controller.RegisterCore(mgr, config.NewStore(system), system); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	return m.Run()
}

func testenvConfig(*testing.T) *rest.Config { return restCfg }

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
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
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

// zapLevel logs errors only, unless CSCLR_TEST_VERBOSE is set.
func zapLevel() zapcore.Level {
	if os.Getenv("CSCLR_TEST_VERBOSE") != "" {
		return zapcore.DebugLevel
	}
	return zapcore.ErrorLevel
}
