//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"csclr.dev/csclr/pkg/devcluster"
)

// ksvcSpec is what the data-plane tests vary in a Knative Service.
type ksvcSpec struct {
	name        string
	image       string
	annotations map[string]string // on the revision template
	env         map[string]string
	concurrency int64             // containerConcurrency; 0 = unlimited
	timeout     int64             // timeoutSeconds; 0 = Knative's default
	portName    string            // "h2c" for HTTP/2 without TLS; "" = Knative's default
	labels      map[string]string // on the Service
	traffic     []any             // spec.traffic; nil = Knative's default
	requests    map[string]any    // the container's resources.requests
}

func (s ksvcSpec) object() *unstructured.Unstructured {
	container := map[string]any{"image": s.image}
	var env []any
	for k, v := range s.env {
		env = append(env, map[string]any{"name": k, "value": v})
	}
	if len(env) > 0 {
		container["env"] = env
	}
	if len(s.requests) > 0 {
		container["resources"] = map[string]any{"requests": s.requests}
	}
	if s.portName != "" {
		container["ports"] = []any{map[string]any{"name": s.portName, "containerPort": int64(8080)}}
	}
	spec := map[string]any{"containers": []any{container}}
	if s.concurrency > 0 {
		spec["containerConcurrency"] = s.concurrency
	}
	if s.timeout > 0 {
		spec["timeoutSeconds"] = s.timeout
	}
	annotations := map[string]any{}
	for k, v := range s.annotations {
		annotations[k] = v
	}
	metadata := map[string]any{"name": s.name}
	if len(s.labels) > 0 {
		labels := map[string]any{}
		for k, v := range s.labels {
			labels[k] = v
		}
		metadata["labels"] = labels
	}
	svcSpec := map[string]any{"template": map[string]any{
		"metadata": map[string]any{"annotations": annotations},
		"spec":     spec,
	}}
	if s.traffic != nil {
		svcSpec["traffic"] = s.traffic
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.knative.dev/v1",
		"kind":       "Service",
		"metadata":   metadata,
		"spec":       svcSpec,
	}}
}

// applyKsvc creates or updates the Service (server-side apply, as kubectl
// apply --server-side would) and waits until it is Ready for this
// generation. It returns the host its URL names.
func applyKsvc(t *testing.T, ctx context.Context, ns string, s ksvcSpec) string {
	t.Helper()
	obj := s.object()
	data, err := obj.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	_, err = dynamicClient(t).Resource(ksvcGVR).Namespace(ns).Patch(ctx, s.name, types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: "csclr-e2e", Force: ptr.To(true)})
	if err != nil {
		t.Fatalf("applying ksvc %s/%s: %v", ns, s.name, err)
	}
	svc := waitKsvcReady(t, ctx, ns, s.name, corev1.ConditionTrue)
	url, _, _ := unstructured.NestedString(svc.Object, "status", "url")
	host := strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://")
	if host == "" {
		t.Fatalf("ksvc %s/%s is Ready without a URL", ns, s.name)
	}
	return host
}

// appImage builds the test app once per run.
var appImage = sync.OnceValues(func() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	return devcluster.KoBuild(ctx, cluster.repo, "csclr.dev/csclr/test/images/app", io.Discard)
})

func testImage(t *testing.T) string {
	t.Helper()
	image, err := appImage()
	if err != nil {
		t.Fatalf("building the test app: %v", err)
	}
	return image
}

// gateway is host:port where csclr's gateway answers from the host, as
// `csclr dev env` prints it in CSCLR_GATEWAY: its public entry (Service
// csclr-gateway), where only public Routes' hosts resolve. Every test's
// ksvc has the default visibility. A test of a cluster-local Route would
// need the in-cluster entry instead (Service csclr-activator, port 80).
func gateway(t *testing.T, ctx context.Context) string {
	t.Helper()
	svc, err := cluster.kube.CoreV1().Services("csclr-system").Get(ctx, "csclr-gateway", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the gateway Service: %v", err)
	}
	return svc.Spec.ClusterIP + ":80"
}

// client sends requests for host through the gateway.
type client struct {
	gateway string
	host    string
	http    *http.Client
}

func newClient(t *testing.T, ctx context.Context, host string, timeout time.Duration) *client {
	return &client{gateway: gateway(t, ctx), host: host, http: &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0, IdleConnTimeout: 30 * time.Second},
	}}
}

// response is what the tests look at in an answer.
type response struct {
	status   int
	body     string
	header   http.Header
	duration time.Duration
}

func (c *client) get(ctx context.Context, path string) (response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.gateway+path, nil)
	if err != nil {
		return response{}, err
	}
	req.Host = c.host
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return response{}, fmt.Errorf("reading the body of %s %s: %w", c.host, path, err)
	}
	return response{status: resp.StatusCode, body: string(body), header: resp.Header, duration: time.Since(start)}, nil
}

// mustGet fails the test unless path answers want.
func (c *client) mustGet(t *testing.T, ctx context.Context, path string, want int) response {
	t.Helper()
	r, err := c.get(ctx, path)
	if err != nil {
		t.Fatalf("GET %s%s: %v", c.host, path, err)
	}
	if r.status != want {
		t.Fatalf("GET %s%s: %d %q, want %d", c.host, path, r.status, r.body, want)
	}
	return r
}

// replicas is the revision Deployment's spec and ready replica counts.
func replicas(t *testing.T, ctx context.Context, ns, revision string) (int32, int32) {
	t.Helper()
	d, err := cluster.kube.AppsV1().Deployments(ns).Get(ctx, revision+"-deployment", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("Deployment of %s: %v", revision, err)
	}
	return ptr.Deref(d.Spec.Replicas, 1), d.Status.ReadyReplicas
}

// waitReplicas waits (up to limit) until the revision's Deployment asks for
// a number of replicas that ok accepts.
func waitReplicas(t *testing.T, ctx context.Context, ns, revision string, limit time.Duration, what string, ok func(spec, ready int32) bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		spec, ready := replicas(t, ctx, ns, revision)
		if ok(spec, ready) {
			return
		}
		if time.Now().After(deadline) {
			dumpPods(t, ns)
			t.Fatalf("%s: %s still has %d replicas (%d ready) after %s", what, revision, spec, ready, limit)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// revisionEvents lists the reasons of the events recorded on a revision.
func revisionEvents(t *testing.T, ctx context.Context, ns, revision string) []string {
	t.Helper()
	events, err := cluster.kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.kind=Revision,involvedObject.name=" + revision,
	})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, e := range events.Items {
		reasons = append(reasons, e.Reason)
	}
	return reasons
}
