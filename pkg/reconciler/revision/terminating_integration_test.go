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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"csclr.dev/csclr/pkg/names"
)

// A Revision whose namespace is being deleted does not fight the deletion:
// when its Deployment goes (here deleted by the test; the namespace
// controller would), the reconciler tries once to put it back and, refused
// because the namespace is terminating, neither retries nor records an
// event. (The test apiserver runs no namespace controller, so the
// namespace stays Terminating with its objects.)
func TestNoRetriesInATerminatingNamespace(t *testing.T) {
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

	before := refusedDeploymentCreates(t)
	if err := k8s.Delete(ctx, dep); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a create refused", func() string {
		if refusedDeploymentCreates(t) == before {
			return "no create refused yet"
		}
		return ""
	})
	// Retried with back-off (5 ms doubling), three seconds would see ten.
	time.Sleep(3 * time.Second)
	if n := refusedDeploymentCreates(t) - before; n > 2 {
		t.Errorf("the reconciler tried %d times to create the Deployment in the terminating namespace; want 1 (2 if the delete and the refusal crossed)", n)
	}
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
