//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"

	"csclr.dev/csclr/pkg/devcluster"
)

// The foundation: a real node runs a ko-built image, Services work, DNS
// resolves Service names, KEDA serves external metrics, CRDs are installed.
func TestCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	t.Run("node Ready", func(t *testing.T) {
		node, err := cluster.kube.CoreV1().Nodes().Get(ctx, "csclr-dev", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
				t.Fatalf("node not Ready: %s: %s", c.Reason, c.Message)
			}
		}
	})

	t.Run("CRDs installed", func(t *testing.T) {
		crds := dynamicClient(t).Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
		for _, name := range []string{"services.serving.knative.dev", "scaledobjects.keda.sh", "httproutes.gateway.networking.k8s.io"} {
			if _, err := crds.Get(ctx, name, metav1.GetOptions{}); err != nil {
				t.Errorf("CRD %s: %v", name, err)
			}
		}
	})

	t.Run("KEDA available", func(t *testing.T) {
		dep, err := cluster.kube.AppsV1().Deployments("keda").Get(ctx, "keda-operator", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !deploymentAvailable(dep) {
			t.Errorf("keda-operator not Available: %+v", dep.Status.Conditions)
		}
		apiservices := dynamicClient(t).Resource(schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"})
		svc, err := apiservices.Get(ctx, "v1beta1.external.metrics.k8s.io", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		conds, _, _ := unstructured.NestedSlice(svc.Object, "status", "conditions")
		if !conditionTrue(conds, "Available") {
			t.Errorf("external metrics APIService not Available: %v", conds)
		}
		// The aggregated API answers through the apiserver.
		if err := cluster.kube.RESTClient().Get().AbsPath("/apis/external.metrics.k8s.io/v1beta1").Do(ctx).Error(); err != nil {
			t.Errorf("external.metrics.k8s.io does not answer: %v", err)
		}
	})

	t.Run("cluster DNS resolves Service names", func(t *testing.T) {
		r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, "10.96.0.10:53")
		}}
		addrs, err := r.LookupHost(ctx, "kubernetes.default.svc.cluster.local")
		if err != nil || len(addrs) == 0 || addrs[0] != "10.96.0.1" {
			t.Errorf("kubernetes.default.svc.cluster.local through the kube-dns Service: %v %v, want 10.96.0.1", addrs, err)
		}
	})

	t.Run("a ko-built image answers on its pod IP and ClusterIP", func(t *testing.T) {
		ns := createNamespace(t, ctx, "e2e-foundation")
		image, err := devcluster.KoBuild(ctx, cluster.repo, "csclr.dev/csclr/test/images/app", testLog(t))
		if err != nil {
			t.Fatal(err)
		}
		podIP, clusterIP := deployApp(t, ctx, ns, "hello", image, "hello from csclr")
		for _, url := range []string{"http://" + podIP + ":8080/", "http://" + clusterIP + "/"} {
			body := getOK(t, ctx, url)
			if !strings.Contains(body, "hello from csclr") {
				t.Errorf("GET %s = %q, want the app's message", url, body)
			}
		}
	})
}

// deployApp runs image as a Deployment of one replica behind a Service and
// returns the pod IP and the Service's ClusterIP once the pod is ready.
func deployApp(t *testing.T, ctx context.Context, ns, name, image, message string) (string, string) {
	t.Helper()
	labels := map[string]string{"app": name}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: image,
					Env:            []corev1.EnvVar{{Name: "MESSAGE", Value: message}, {Name: "PORT", Value: "8080"}},
					Ports:          []corev1.ContainerPort{{ContainerPort: 8080}},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(8080)}}, PeriodSeconds: 1},
				}}},
			},
		},
	}
	if _, err := cluster.kube.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	svc, err := cluster.kube.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var podIP string
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := cluster.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil || len(pods.Items) == 0 {
			return false, nil
		}
		p := pods.Items[0]
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				podIP = p.Status.PodIP
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		dumpPods(t, ns)
		t.Fatalf("pod of %s/%s not ready: %v", ns, name, err)
	}
	return podIP, svc.Spec.ClusterIP
}

// getOK GETs url until it answers 200 (Service rules may lag the pod's
// readiness by a moment) and returns the body.
func getOK(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	var last string
	for i := 0; i < 60; i++ {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(body)
			}
			last = fmt.Sprintf("%s: %s", resp.Status, body)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("GET %s: %v (last: %s)", url, ctx.Err(), last)
		case <-time.After(500 * time.Millisecond):
		}
	}
	t.Fatalf("GET %s never answered 200: %s", url, last)
	return ""
}

// createNamespace makes a new namespace named prefix-<random> (so that what
// an earlier run left never meets this one) and deletes it, without
// waiting, when the test passes; a failed test's namespace stays for a look
// (CSCLR_E2E_KEEP=1).
func createNamespace(t *testing.T, ctx context.Context, prefix string) string {
	t.Helper()
	ns, err := cluster.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	name := ns.Name
	t.Cleanup(func() {
		if !t.Failed() {
			_ = cluster.kube.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
		}
	})
	// The default ServiceAccount appears asynchronously; pods wait for it.
	_ = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := cluster.kube.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	return name
}

func dumpPods(t *testing.T, ns string) {
	pods, err := cluster.kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, p := range pods.Items {
		t.Logf("pod %s: phase %s, conditions %+v, containers %+v", p.Name, p.Status.Phase, p.Status.Conditions, p.Status.ContainerStatuses)
	}
	events, _ := cluster.kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if events != nil {
		for _, e := range events.Items {
			t.Logf("event %s %s: %s", e.InvolvedObject.Name, e.Reason, e.Message)
		}
	}
}

func deploymentAvailable(d *appsv1.Deployment) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func dynamicClient(t *testing.T) dynamic.Interface {
	c, err := dynamic.NewForConfig(cluster.config)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func conditionTrue(conds []any, typ string) bool {
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			return m["status"] == "True"
		}
	}
	return false
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLog(t *testing.T) io.Writer {
	if os.Getenv("CSCLR_E2E_VERBOSE") == "1" {
		return logWriter{t}
	}
	return io.Discard
}
