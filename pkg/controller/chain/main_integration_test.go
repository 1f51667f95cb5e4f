//go:build integration

package chain_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"csclr.dev/csclr/internal/testenv"
	"csclr.dev/csclr/pkg/config"
	"csclr.dev/csclr/pkg/controller"
	"csclr.dev/csclr/pkg/names"
)

// One apiserver and, on it, the whole controller as the process runs it
// (controller.New: every reconciler, the configuration store, the scoped
// caches; no webhook, no leader election). There is no kube-controller-
// manager, kubelet or KEDA: tests play them by writing the status of the
// revisions' Deployments and pods. Each test works in its own namespace.
var (
	k8s   client.Client
	whole ctrl.Manager
	store *config.Store
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
		Setup: func(_ context.Context, e *testenv.Env, suite ctrl.Manager) error {
			k8s = e.Client
			whole, store, err = controller.New(e.Config, controller.Options{
				SystemNamespace: system, MetricsAddr: "0", ProbeAddr: "0",
			})
			if err != nil {
				return err
			}
			// The suite's (empty) manager runs the controller's and waits
			// for it to stop before the apiserver does.
			return suite.Add(manager.RunnableFunc(whole.Start))
		},
		Ready: func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			select {
			case <-whole.Elected():
			case <-ctx.Done():
				return errors.New("the controller did not start within a minute")
			}
			if !whole.GetCache().WaitForCacheSync(ctx) {
				return errors.New("the controller's caches did not sync within a minute")
			}
			return store.WaitLoaded(ctx)
		},
	})
}

// newNamespace makes a namespace, with the default ServiceAccount that pod
// admission wants, for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := fmt.Sprintf("chain-%d", nsSeq.Add(1))
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}},
	} {
		if err := k8s.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	return ns
}

// eventually polls check until it returns nil, failing the test with its
// last error after 30s.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, what, check)
}

// createService creates Service ns/name running image, as a user would
// (without the webhook, which would only default it).
func createService(t *testing.T, ns, name, image string) *v1.Service {
	t.Helper()
	svc := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1.ServiceSpec{ConfigurationSpec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
			Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{
				Image: image, Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
			}}}},
		}}},
	}
	if err := k8s.Create(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	return svc
}

// setImage updates the Service's image, which stamps a new revision.
func setImage(t *testing.T, ns, name, image string) {
	t.Helper()
	eventually(t, "updating the image of service "+name, func() error {
		svc := &v1.Service{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, svc); err != nil {
			return err
		}
		svc.Spec.Template.Spec.Containers[0].Image = image
		return k8s.Update(context.Background(), svc)
	})
}

// deploymentOf waits for the revision's Deployment (and so for the
// revision, with its UID) and returns both.
func deploymentOf(t *testing.T, ns, revision string) (*v1.Revision, *appsv1.Deployment) {
	t.Helper()
	rev, dep := &v1.Revision{}, &appsv1.Deployment{}
	eventually(t, "the Deployment of revision "+revision, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: revision}, rev); err != nil {
			return err
		}
		return k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: names.Deployment(revision)}, dep)
	})
	return rev, dep
}

// setDeploymentStatus writes the Deployment's status, as the Deployment
// controller would, and keeps it (nothing else writes it here).
func setDeploymentStatus(t *testing.T, dep *appsv1.Deployment, status appsv1.DeploymentStatus) {
	t.Helper()
	eventually(t, "writing the status of Deployment "+dep.Name, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(dep), dep); err != nil {
			return err
		}
		dep.Status = *status.DeepCopy()
		dep.Status.ObservedGeneration = dep.Generation
		return k8s.Status().Update(context.Background(), dep)
	})
}

// setPod creates (or updates) a pod of the revision's Deployment, built from
// its template, and gives it the status a kubelet would: Running, Ready as
// given, and the user container's status.
func setPod(t *testing.T, rev *v1.Revision, dep *appsv1.Deployment, name string, ready bool, user corev1.ContainerStatus) {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: rev.Namespace, Name: name}}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(pod), pod); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	} else if err != nil {
		pod.Labels = map[string]string{}
		for k, v := range dep.Spec.Template.Labels {
			pod.Labels[k] = v
		}
		pod.Labels[serving.RevisionUID] = string(rev.UID)
		pod.Spec = *dep.Spec.Template.Spec.DeepCopy()
		pod.Spec.AutomountServiceAccountToken = ptr.To(false)
		if err := k8s.Create(ctx, pod); err != nil {
			t.Fatalf("creating pod %s: %v", name, err)
		}
	}
	readiness := corev1.ConditionFalse
	if ready {
		readiness = corev1.ConditionTrue
	}
	user.Name, user.Ready = pod.Spec.Containers[0].Name, ready
	queue := corev1.ContainerStatus{Name: "queue-proxy", Ready: ready, Started: ptr.To(true),
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}
	eventually(t, "writing the status of pod "+name, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			return err
		}
		pod.Status = corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: "10.0.0.7", PodIPs: []corev1.PodIP{{IP: "10.0.0.7"}},
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
				{Type: corev1.ContainersReady, Status: readiness},
				{Type: corev1.PodReady, Status: readiness},
			},
			ContainerStatuses: []corev1.ContainerStatus{user, queue},
		}
		return k8s.Status().Update(ctx, pod)
	})
}

// knObject is a Knative object with a duck-typed status.
type knObject interface {
	client.Object
	GetStatus() *duckv1.Status
}

// waitCondition waits until obj (its namespace and name set) has observed
// its generation and its condition typ has the status and, if given, the
// reason; a False condition must also carry a reason and a message. It
// returns the condition, and leaves obj as last read.
func waitCondition(t *testing.T, obj knObject, typ apis.ConditionType, status corev1.ConditionStatus, reason string) apis.Condition {
	t.Helper()
	var got apis.Condition
	what := fmt.Sprintf("%T %s: %s=%s %s", obj, obj.GetName(), typ, status, reason)
	eventually(t, what, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		st := obj.GetStatus()
		c := st.GetCondition(typ)
		switch {
		case st.ObservedGeneration != obj.GetGeneration():
			return fmt.Errorf("observedGeneration %d, generation %d", st.ObservedGeneration, obj.GetGeneration())
		case c == nil || c.Status != status || (reason != "" && c.Reason != reason):
			return fmt.Errorf("%s = %+v", typ, c)
		case c.Status == corev1.ConditionFalse && (c.Reason == "" || c.Message == ""):
			return fmt.Errorf("%s is False without a reason or a message: %+v", typ, c)
		}
		got = *c
		return nil
	})
	return got
}

// wantMessage fails the test unless the condition's message is want.
func wantMessage(t *testing.T, what string, c apis.Condition, want string) {
	t.Helper()
	if c.Message != want {
		t.Errorf("%s: %s message = %q, want %q", what, c.Type, c.Message, want)
	}
}

func revision(ns, name string) *v1.Revision {
	return &v1.Revision{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func configuration(ns, name string) *v1.Configuration {
	return &v1.Configuration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func route(ns, name string) *v1.Route {
	return &v1.Route{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func service(ns, name string) *v1.Service {
	return &v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}
