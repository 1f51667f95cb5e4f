//go:build integration

package revision_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"csclr.dev/csclr/internal/testenv"
	"csclr.dev/csclr/pkg/controller"
	"csclr.dev/csclr/pkg/reconciler/revision"
)

// One apiserver and one manager running only the Revision reconciler; each
// test works in its own namespace. There is no kubelet or
// controller-manager: tests play their part by writing pod and Deployment
// status.
var (
	env   *testenv.Env
	k8s   client.Client
	nsSeq atomic.Int32
	cfg   = revision.DefaultConfig()
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// fakeResolver resolves every image of registry.example to testDigest
// without a network, hands images of in-process registries (127.0.0.1) to
// the real resolver, and fails for anything else.
type fakeResolver struct {
	registry revision.DigestResolver
}

func (f fakeResolver) Resolve(ctx context.Context, image string, pull revision.PullSecrets, skip sets.Set[string]) (string, error) {
	switch {
	case strings.HasPrefix(image, "registry.example/"):
		return "registry.example/hello@" + testDigest, nil
	case strings.HasPrefix(image, "kind.local/"):
		return "", nil
	case strings.HasPrefix(image, "127.0.0.1:"):
		return f.registry.Resolve(ctx, image, pull, skip)
	}
	return "", fmt.Errorf("HEAD %s: MANIFEST_UNKNOWN", image)
}

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.Suite{
		// HTTPRoutes only for the cache options, which scope them too.
		Scheme:     testenv.NewScheme(revision.AddToScheme, gatewayv1.Install),
		Namespaces: []string{cfg.SystemNamespace},
		// The caches scoped as in production.
		Manager: func(o *ctrl.Options) { o.Cache = controller.CacheOptions(cfg.SystemNamespace) },
		Setup: func(_ context.Context, e *testenv.Env, mgr ctrl.Manager) error {
			env, k8s = e, e.Client
			return revision.SetupWithManager(mgr, revision.Options{
				Config:   func(context.Context) revision.Config { return cfg },
				Resolver: fakeResolver{registry: revision.RegistryResolver{Reader: mgr.GetAPIReader()}},
			})
		},
	})
}

// newNamespace makes a namespace (with the default ServiceAccount that pod
// admission wants) for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := fmt.Sprintf("rev-%d", nsSeq.Add(1))
	ctx := context.Background()
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}},
	} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	return ns
}

// newRevision creates a defaulted Revision as the Configuration reconciler would.
func newRevision(t *testing.T, ns, image string, annotations map[string]string) *v1.Revision {
	t.Helper()
	rev := &v1.Revision{
		ObjectMeta: metav1.ObjectMeta{
			Name: "hello-00001", Namespace: ns, Annotations: annotations,
			Labels: map[string]string{
				serving.ConfigurationLabelKey: "hello", serving.ServiceLabelKey: "hello",
				serving.ConfigurationGenerationLabelKey: "1",
			},
		},
		Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{
			Image: image, Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
		}}}},
	}
	rev.SetDefaults(context.Background())
	if err := k8s.Create(context.Background(), rev); err != nil {
		t.Fatalf("creating revision: %v", err)
	}
	return rev
}

// eventually polls cond until it returns "" or the time is up.
func eventually(t *testing.T, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		if last = cond(); last == "" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %s", what, last)
}

// addPod creates a pod of the revision and gives it the status a kubelet would.
func addPod(t *testing.T, rev *v1.Revision, name, ip string, ready bool, statuses ...corev1.ContainerStatus) {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: rev.Namespace, Labels: map[string]string{
			serving.RevisionLabelKey: rev.Name, serving.RevisionUID: string(rev.UID),
		}},
		Spec: corev1.PodSpec{
			Containers:                   []corev1.Container{{Name: "user-container", Image: "x"}},
			AutomountServiceAccountToken: ptr.To(false),
		},
	}
	if err := k8s.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	pod.Status = corev1.PodStatus{
		Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
		Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: status}},
		ContainerStatuses: statuses,
	}
	if err := k8s.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
}
