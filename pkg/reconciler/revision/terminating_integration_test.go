//go:build integration

package revision_test

import (
	"bufio"
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"csclr.dev/csclr/pkg/names"
	"csclr.dev/csclr/pkg/reconciler/revision"
)

// A Revision whose namespace is being deleted does not fight the deletion:
// when its Deployment goes (here deleted by the test; the namespace
// controller would), the reconciler runs but sends no create, since its
// client knows from a watch of namespaces that the API server would refuse
// it, and neither retries nor records an event. (The test apiserver runs no
// namespace controller, so the namespace stays Terminating with its
// objects.)
func TestNoCreatesInATerminatingNamespace(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	newRevision(t, ns, "registry.example/hello:v1", nil)
	dep := &appsv1.Deployment{}
	waitExists(t, ns, names.Deployment("hello-00001"), dep)

	if err := k8s.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the namespace terminating", func() string {
		got := &corev1.Namespace{}
		if err := get(t, "", ns, got); err != nil {
			return err.Error()
		}
		if got.Status.Phase != corev1.NamespaceTerminating {
			return "phase " + string(got.Status.Phase)
		}
		return ""
	})
	// The controller's watch of namespaces sees that within milliseconds;
	// the test cannot look into it, so it gives it ample time.
	time.Sleep(time.Second)

	before, reconciles := refusedDeploymentCreates(t), revisionReconciles(t)
	if err := k8s.Delete(ctx, dep); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a reconcile after the Deployment's deletion", func() string {
		if revisionReconciles(t) == reconciles {
			return "no reconcile yet"
		}
		return ""
	})
	// Retried with back-off (5 ms doubling), three seconds would see ten.
	time.Sleep(3 * time.Second)
	if n := refusedDeploymentCreates(t) - before; n != 0 {
		t.Errorf("the API server refused %d Deployment creates in the terminating namespace; want none sent", n)
	}
	if err := get(t, ns, dep.Name, &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Errorf("reading the Deployment: %v; want NotFound", err)
	}
}

// revisionReconciles is how many reconciles the Revision controller of
// this process has finished, whatever their result.
func revisionReconciles(t *testing.T) int {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == revision.ControllerName {
					total += int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return total
}

// refusedDeploymentCreates is the API server's count of refused (403)
// Deployment creates, all namespaces.
func refusedDeploymentCreates(t *testing.T) int {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := cs.RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		if !strings.Contains(line, `code="403"`) || !strings.Contains(line, `resource="deployments"`) || !strings.Contains(line, `verb="POST"`) {
			continue
		}
		n, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("parsing %q: %v", line, err)
		}
		total += int(n)
	}
	return total
}
