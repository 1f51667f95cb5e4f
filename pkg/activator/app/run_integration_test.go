//go:build integration

package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/serving/pkg/apis/serving"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	pb "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"

	"csclr.dev/csclr/internal/testenv"
	"csclr.dev/csclr/pkg/queue"
)

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// fixture is an activator process running against a real apiserver with
// revisions hello-00001 (one ready pod) and hello-00002 (none yet) of ns,
// routed by an Ingress and an HTTPRoute.
type fixture struct {
	ctx     context.Context
	k       client.Client
	cfg     Config
	stop    context.CancelFunc // SIGTERM
	exited  chan struct{}      // closed when Run has returned
	err     error              // what Run returned
	makePod func(name, rev string, ready bool)
}

func startActivator(t *testing.T, drain time.Duration) *fixture {
	scheme, err := Scheme()
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.Start(t, scheme)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	k := env.Client
	mustCreate := func(o client.Object) {
		t.Helper()
		if err := k.Create(ctx, o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
	mustCreate(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}})
	mustCreate(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "csclr-system"}})

	pod := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(queue.ProbeHeader) != "" {
			return // 200: ready
		}
		fmt.Fprintf(w, "hi from the pod, host %s", r.Host)
	}))
	t.Cleanup(pod.Close)
	podPort := pod.Listener.Addr().(*net.TCPAddr).Port

	for _, name := range []string{"hello-00001", "hello-00002"} {
		mustCreate(&servingv1.Revision{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
			Spec: servingv1.RevisionSpec{TimeoutSeconds: ptr.To[int64](60), PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "example.com/app"}}}}})
	}
	makePod := func(name, rev string, ready bool) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{serving.RevisionLabelKey: rev}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example.com/app"}}}}
		mustCreate(p)
		st := map[bool]corev1.ConditionStatus{true: corev1.ConditionTrue, false: corev1.ConditionFalse}[ready]
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1", Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}
		if err := k.Status().Update(ctx, p); err != nil {
			t.Fatalf("pod %s status: %v", name, err)
		}
	}
	makePod("hello-00001-pod", "hello-00001", true)

	mustCreate(&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hello"}, Spec: networkingv1.IngressSpec{
		IngressClassName: ptr.To("csclr"),
		Rules:            []networkingv1.IngressRule{{Host: "hello.ns.example.com"}, {Host: "next-hello.ns.example.com"}}}})
	ref := func(rev string, w int32) gatewayv1.HTTPBackendRef {
		return gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(rev), Port: ptr.To(gatewayv1.PortNumber(80))}, Weight: ptr.To(w)}}
	}
	mustCreate(&gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hello"}, Spec: gatewayv1.HTTPRouteSpec{
		CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Kind: ptr.To(gatewayv1.Kind("Service")), Group: ptr.To(gatewayv1.Group("")), Name: "hello", Port: ptr.To(gatewayv1.PortNumber(80))}}},
		Rules: []gatewayv1.HTTPRouteRule{
			{BackendRefs: []gatewayv1.HTTPBackendRef{ref("hello-00001", 100)}},
			{Matches: []gatewayv1.HTTPRouteMatch{{Headers: []gatewayv1.HTTPHeaderMatch{{Type: ptr.To(gatewayv1.HeaderMatchExact), Name: "Knative-Serving-Tag", Value: "next"}}}},
				BackendRefs: []gatewayv1.HTTPBackendRef{ref("hello-00002", 100)}},
		}}})

	cfg := Config{ProxyPort: freePort(t), PublicPort: freePort(t), ScalerPort: freePort(t), MetricsPort: freePort(t), AdminPort: freePort(t),
		PodPort: podPort, PodMetricsPort: freePort(t), PodName: "activator-0", PodIP: "127.0.0.1",
		SystemNamespace: "csclr-system", ActivatorService: "csclr-activator", IngressClass: "csclr", ClusterDomain: "cluster.local",
		QueueDepth: 10, ProbeInterval: 10 * time.Millisecond, RetryAfter: time.Second, DrainPeriod: drain}
	runCtx, stop := context.WithCancel(ctx)
	f := &fixture{ctx: ctx, k: k, cfg: cfg, stop: stop, exited: make(chan struct{}), makePod: makePod}
	go func() {
		defer close(f.exited)
		f.err = Run(runCtx, env.Config, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	t.Cleanup(func() {
		stop()
		select {
		case <-f.exited:
		case <-time.After(time.Minute):
			t.Error("the activator did not stop within a minute")
		}
	})
	return f
}

// get sends a request for host to the activator's proxy port (the
// in-cluster entry).
func (f *fixture) get(host string) (int, string, error) { return f.getOn(f.cfg.ProxyPort, host) }

// getOn sends a request for host to the activator's port.
func (f *fixture) getOn(port int, host string) (int, string, error) {
	req, _ := http.NewRequestWithContext(f.ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+"/", nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// TestRunServesWarmAndColdRequests runs the whole activator process against
// a real apiserver: a warm request is routed by Ingress + HTTPRoute to a
// ready pod; a request for a revision with no pod is held, reaches KEDA's
// stream on the scaler port, and is answered once a pod appears and passes
// the activator's probe.
func TestRunServesWarmAndColdRequests(t *testing.T) {
	f := startActivator(t, 0)
	ctx, cfg, get, makePod := f.ctx, f.cfg, f.get, f.makePod

	// Warm: wait for the caches and the table.
	deadline := time.Now().Add(time.Minute)
	for {
		code, body, err := get("hello.ns.example.com")
		if err == nil && code == http.StatusOK {
			if body != "hi from the pod, host hello.ns.example.com" {
				t.Fatalf("warm body %q", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the warm route never answered: %d %q %v", code, body, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Cold: KEDA's stream for hello-00002 on the scaler port.
	conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(cfg.ScalerPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	keda := pb.NewExternalScalerClient(conn)
	so := &pb.ScaledObjectRef{Namespace: "ns", Name: "hello-00002", ScalerMetadata: map[string]string{"namespace": "ns", "revision": "hello-00002", "target": "10"}}
	stream, err := keda.StreamIsActive(ctx, so)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := keda.IsActive(ctx, so); err != nil || a.Result {
		t.Fatalf("IsActive before any request: %v %v", a, err)
	}

	type result struct {
		code int
		body string
		err  error
	}
	cold := make(chan result, 1)
	start := time.Now()
	go func() { c, b, err := get("next-hello.ns.example.com"); cold <- result{c, b, err} }()
	if resp, err := stream.Recv(); err != nil || !resp.Result {
		t.Fatalf("KEDA stream: %v %v", resp, err)
	}
	t.Logf("cold request → KEDA stream: %v", time.Since(start))

	makePod("hello-00002-pod", "hello-00002", false) // has an IP; the activator's probe finds it ready
	select {
	case r := <-cold:
		if r.err != nil || r.code != http.StatusOK || r.body != "hi from the pod, host next-hello.ns.example.com" {
			t.Fatalf("cold request: %d %q %v", r.code, r.body, r.err)
		}
		t.Logf("cold request answered after %v", time.Since(start))
	case <-time.After(30 * time.Second):
		t.Fatal("the cold request was never answered")
	}
	if a, err := keda.IsActive(ctx, so); err != nil || !a.Result {
		t.Errorf("IsActive after a cold request: %v %v", a, err)
	}
	if code, _, _ := get("unknown.example.com"); code != http.StatusNotFound {
		t.Errorf("unknown host: %d, want 404", code)
	}
}

// A request held for a cold revision when the activator is told to stop
// (SIGTERM) is still answered once a pod becomes ready during the drain: the
// informers keep running until the servers have shut down.
func TestRunAnswersHeldRequestsWhileDraining(t *testing.T) {
	f := startActivator(t, 3*time.Second)
	deadline := time.Now().Add(time.Minute)
	for {
		if code, _, err := f.get("hello.ns.example.com"); err == nil && code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the warm route never answered")
		}
		time.Sleep(100 * time.Millisecond)
	}

	type result struct {
		code int
		body string
		err  error
	}
	cold := make(chan result, 1)
	go func() { c, b, err := f.get("next-hello.ns.example.com"); cold <- result{c, b, err} }()
	time.Sleep(500 * time.Millisecond) // held: no pod for hello-00002
	f.stop()                           // SIGTERM
	time.Sleep(500 * time.Millisecond) // draining
	f.makePod("hello-00002-pod", "hello-00002", false)
	select {
	case r := <-cold:
		if r.err != nil || r.code != http.StatusOK {
			t.Fatalf("held request during the drain: %d %q %v", r.code, r.body, r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the held request was never answered during the drain")
	}
	select {
	case <-f.exited:
		if f.err != nil {
			t.Errorf("Run after the drain: %v", f.err)
		}
	case <-time.After(30 * time.Second):
		t.Error("Run did not return after the drain")
	}
}

// The public listener (the ingress class's external entry) serves the hosts
// of public Routes' Ingresses and nothing else: not a cluster-local Route
// (which has no Ingress, or still one labelled cluster-local from an older
// csclr), nor any Service name. The in-cluster listener serves them all.
func TestRunPublicListenerServesPublicRoutesOnly(t *testing.T) {
	f := startActivator(t, 0)
	// private: a cluster-local Route's HTTPRoute, to the ready revision, and
	// the Ingress an older csclr left it.
	if err := f.k.Create(f.ctx, &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "private"}, Spec: gatewayv1.HTTPRouteSpec{
		Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{Name: "hello-00001", Port: ptr.To(gatewayv1.PortNumber(80))}, Weight: ptr.To[int32](100)}}}}},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := f.k.Create(f.ctx, &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "private",
		Labels: map[string]string{"networking.knative.dev/visibility": "cluster-local"}}, Spec: networkingv1.IngressSpec{
		IngressClassName: ptr.To("csclr"), Rules: []networkingv1.IngressRule{{Host: "private.ns.example.com"}}}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		code, body, err := f.get("private.ns.example.com")
		if err == nil && code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the in-cluster listener never served the cluster-local route: %d %q %v", code, body, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	public := f.cfg.PublicPort
	for _, tc := range []struct {
		host              string
		public, inCluster int
	}{
		{"hello.ns.example.com", http.StatusOK, http.StatusOK},                   // a public Route's host
		{"private.ns.svc.cluster.local", http.StatusNotFound, http.StatusOK},     // the cluster-local Route's Service name
		{"private.ns.example.com", http.StatusNotFound, http.StatusOK},           // its leftover Ingress, labelled cluster-local
		{"hello.ns.svc.cluster.local", http.StatusNotFound, http.StatusOK},       // a public Route's apex Service name
		{"hello-00001.ns.svc.cluster.local", http.StatusNotFound, http.StatusOK}, // a routed revision's Service name
		{"unknown.example.com", http.StatusNotFound, http.StatusNotFound},
	} {
		for _, l := range []struct {
			name       string
			port, want int
		}{{"public", public, tc.public}, {"in-cluster", f.cfg.ProxyPort, tc.inCluster}} {
			code, body, err := f.getOn(l.port, tc.host)
			if err != nil || code != l.want {
				t.Errorf("%s listener, host %s: %d %q %v; want %d", l.name, tc.host, code, body, err, l.want)
			}
			if code == http.StatusOK && body != "hi from the pod, host "+tc.host {
				t.Errorf("%s listener, host %s: body %q", l.name, tc.host, body)
			}
		}
	}
}
