//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"

	"csclr.dev/csclr/pkg/devcluster"
)

var (
	ksvcGVR         = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}
	revisionGVR     = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "revisions"}
	scaledObjectGVR = schema.GroupVersionResource{Group: "keda.sh", Version: "v1alpha1", Resource: "scaledobjects"}
	httpRouteGVR    = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}
	ingressGVR      = schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}
)

// A Knative Service applied with kubectl becomes a Ready revision with its
// Deployment, ScaledObject (KEDA Ready), HTTPRoute and Ingress, each with the
// content csclr's builders give it; a new image makes a second revision that
// takes the traffic and answers through the gateway; a missing image fails
// with a reason and a message; kubectl delete removes everything made for
// the Service.
func TestKnativeServiceWithKubectl(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	ns := createNamespace(t, ctx, "e2e-serving")
	image, err := devcluster.KoBuild(ctx, cluster.repo, "csclr.dev/csclr/test/images/app", testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	// ko prints repo:tag@digest; the same image by tag alone, then by
	// digest, is an image change for Knative.
	tagged := image[:strings.LastIndex(image, "@")]

	kubectlApply(t, ctx, ns, "hello.yaml", map[string]string{"IMAGE": tagged})
	svc := waitKsvcReady(t, ctx, ns, "hello", corev1.ConditionTrue)
	if got, _, _ := unstructured.NestedString(svc.Object, "status", "latestReadyRevisionName"); got != "hello-00001" {
		t.Errorf("latestReadyRevisionName = %q, want hello-00001", got)
	}

	dyn := dynamicClient(t)
	if _, err := cluster.kube.AppsV1().Deployments(ns).Get(ctx, "hello-00001-deployment", metav1.GetOptions{}); err != nil {
		t.Errorf("Deployment: %v", err)
	}
	eventually(t, ctx, "ScaledObject hello-00001 Ready (KEDA)", func() error {
		so, err := dyn.Resource(scaledObjectGVR).Namespace(ns).Get(ctx, "hello-00001", metav1.GetOptions{})
		if err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(so.Object, "status", "conditions")
		if !conditionTrue(conds, "Ready") {
			return fmt.Errorf("conditions %v", conds)
		}
		return nil
	})
	checkBackends(t, ctx, ns, "hello", "hello-00001")
	// hello.yaml: min-scale 1, max-scale 3.
	checkRevisionObjects(t, ctx, ns, "hello", "hello-00001", 1, 3)
	checkRouteObjects(t, ctx, svc)
	host := hostOf(svc, "status", "url")
	const helloBody = "hello from a Knative Service\n"
	waitAnsweredBy(t, ctx, host, "hello-00001", helloBody)

	kubectlApply(t, ctx, ns, "hello.yaml", map[string]string{"IMAGE": image})
	eventually(t, ctx, "second revision takes the traffic", func() error {
		svc, err := dyn.Resource(ksvcGVR).Namespace(ns).Get(ctx, "hello", metav1.GetOptions{})
		if err != nil {
			return err
		}
		traffic, _, _ := unstructured.NestedSlice(svc.Object, "status", "traffic")
		if len(traffic) != 1 || traffic[0].(map[string]any)["revisionName"] != "hello-00002" {
			return fmt.Errorf("status.traffic = %v", traffic)
		}
		return nil
	})
	rev, err := dyn.Resource(revisionGVR).Namespace(ns).Get(ctx, "hello-00002", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if g := rev.GetLabels()["serving.knative.dev/configurationGeneration"]; g != "2" {
		t.Errorf("hello-00002 configurationGeneration label = %q, want 2", g)
	}
	checkBackends(t, ctx, ns, "hello", "hello-00002")
	svc = waitKsvcReady(t, ctx, ns, "hello", corev1.ConditionTrue)
	checkRevisionObjects(t, ctx, ns, "hello", "hello-00002", 1, 3)
	checkRouteObjects(t, ctx, svc)
	waitAnsweredBy(t, ctx, host, "hello-00002", helloBody)
	// hello-00001 is no longer routed (routingState reserve): as in Knative,
	// its min-scale no longer holds pods.
	eventually(t, ctx, "hello-00001 unrouted: min-scale no longer applies", func() error {
		so, err := dyn.Resource(scaledObjectGVR).Namespace(ns).Get(ctx, "hello-00001", metav1.GetOptions{})
		if err != nil {
			return err
		}
		return scaleBoundsError(so, 0, 3)
	})

	kubectlApply(t, ctx, ns, "missing-image.yaml", map[string]string{"IMAGE": devcluster.RegistryAddr + "/csclr/does-not-exist:v1"})
	failed := waitKsvcReady(t, ctx, ns, "missing", corev1.ConditionFalse)
	reason, message := readyReasonMessage(failed)
	if reason == "" || message == "" {
		t.Errorf("Ready=False without reason and message: %q %q", reason, message)
	}
	t.Logf("missing image: Ready=False %s: %s", reason, message)

	kubectlApply(t, ctx, ns, "crashing.yaml", map[string]string{"IMAGE": image})
	crashed := waitKsvcReady(t, ctx, ns, "crashing", corev1.ConditionFalse)
	reason, message = readyReasonMessage(crashed)
	if reason == "" || message == "" {
		t.Errorf("Ready=False without reason and message: %q %q", reason, message)
	}
	t.Logf("crashing container: Ready=False %s: %s", reason, message)
	rev, err = dyn.Resource(revisionGVR).Namespace(ns).Get(ctx, "crashing-00001", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r, m := readyReasonMessage(rev); !strings.Contains(m, "exit") && !strings.Contains(m, "the e2e test asked for it") {
		t.Errorf("crashing-00001 Ready=False %s: %q, want the container's exit in the message", r, m)
	}

	deleteKsvcAndWaitGone(t, ctx, ns, "hello", []string{"hello-00001", "hello-00002"}, 2*time.Minute)
	if _, err := dyn.Resource(ksvcGVR).Namespace(ns).Get(ctx, "crashing", metav1.GetOptions{}); err != nil {
		t.Errorf("deleting hello touched another ksvc: crashing: %v", err)
	}
}

// checkBackends waits until the HTTPRoute sends all traffic to revision.
func checkBackends(t *testing.T, ctx context.Context, ns, name, revision string) {
	t.Helper()
	eventually(t, ctx, "HTTPRoute "+name+" → "+revision, func() error {
		hr, err := dynamicClient(t).Resource(httpRouteGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		rules, _, _ := unstructured.NestedSlice(hr.Object, "spec", "rules")
		for _, r := range rules {
			refs, _, _ := unstructured.NestedSlice(r.(map[string]any), "backendRefs")
			for _, ref := range refs {
				m := ref.(map[string]any)
				if m["name"] == revision && fmt.Sprint(m["weight"]) == "100" {
					return nil
				}
			}
		}
		return fmt.Errorf("rules %v", rules)
	})
}

func waitKsvcReady(t *testing.T, ctx context.Context, ns, name string, want corev1.ConditionStatus) *unstructured.Unstructured {
	t.Helper()
	var svc *unstructured.Unstructured
	eventually(t, ctx, fmt.Sprintf("ksvc %s Ready=%s", name, want), func() error {
		var err error
		svc, err = dynamicClient(t).Resource(ksvcGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		observed, _, _ := unstructured.NestedInt64(svc.Object, "status", "observedGeneration")
		conds, _, _ := unstructured.NestedSlice(svc.Object, "status", "conditions")
		for _, c := range conds {
			m := c.(map[string]any)
			if m["type"] == "Ready" && m["status"] == string(want) && observed == svc.GetGeneration() {
				return nil
			}
		}
		return fmt.Errorf("generation %d, observed %d, conditions %v", svc.GetGeneration(), observed, conds)
	})
	return svc
}

func readyReasonMessage(svc *unstructured.Unstructured) (string, string) {
	conds, _, _ := unstructured.NestedSlice(svc.Object, "status", "conditions")
	for _, c := range conds {
		m := c.(map[string]any)
		if m["type"] == "Ready" {
			return fmt.Sprint(m["reason"]), fmt.Sprint(m["message"])
		}
	}
	return "", ""
}

// kubectlApply applies test/e2e/testdata/<file> with ${VAR}s replaced, with
// the cluster's own kubectl, as a user would.
func kubectlApply(t *testing.T, ctx context.Context, ns, file string, vars map[string]string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	text := os.Expand(string(data), func(k string) string { return vars[k] })
	cmd := exec.CommandContext(ctx, devcluster.KubectlPath(), "--kubeconfig", devcluster.Kubeconfig(mustAbs(cluster.opts.StateDir)), "-n", ns, "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply %s: %v\n%s", file, err, out)
	}
}

// eventually polls check for up to three minutes.
func eventually(t *testing.T, ctx context.Context, what string, check func() error) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 3*time.Minute, true, func(context.Context) (bool, error) {
		last = check()
		return last == nil, nil
	})
	if err != nil {
		t.Fatalf("%s: %v (last: %v)", what, err, last)
	}
}
