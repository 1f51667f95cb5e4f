//go:build integration

package app

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/serving/pkg/apis/serving"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"csclr.dev/csclr/internal/testenv"
	"csclr.dev/csclr/pkg/activator"
	"csclr.dev/csclr/pkg/gateway"
	"csclr.dev/csclr/pkg/names"
)

// TestListersAgainstAPIServer checks what the activator reads from a real
// apiserver through its informer cache: revision pods (by label index), the
// revision's timeout and containerConcurrency, ready endpoints of the
// private Service and of the activator Service, and a routing table built
// from Ingress + HTTPRoute.
func TestListersAgainstAPIServer(t *testing.T) {
	scheme, err := Scheme()
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.Start(t, scheme)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	k := env.Client
	mustCreate := func(o client.Object) {
		t.Helper()
		if err := k.Create(ctx, o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
	for _, ns := range []string{"ns", "csclr-system"} {
		mustCreate(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}

	rev := &servingv1.Revision{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hello-00001"},
		Spec: servingv1.RevisionSpec{ContainerConcurrency: ptr.To[int64](3), TimeoutSeconds: ptr.To[int64](42),
			ResponseStartTimeoutSeconds: ptr.To[int64](7), IdleTimeoutSeconds: ptr.To[int64](9),
			PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "example.com/app"}}}}}
	mustCreate(rev)

	pod := func(name string, ready bool) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{serving.RevisionLabelKey: "hello-00001"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example.com/app"}}}}
		mustCreate(p)
		status := corev1.ConditionFalse
		if ready {
			status = corev1.ConditionTrue
		}
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: map[bool]string{true: "10.0.0.1", false: "10.0.0.2"}[ready],
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}}
		if err := k.Status().Update(ctx, p); err != nil {
			t.Fatalf("pod %s status: %v", name, err)
		}
	}
	pod("ready", true)
	pod("starting", false)
	mustCreate(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "other"}, // not a revision pod: not cached
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}})

	// The EndpointSlice controller copies a Service's labels to its slices.
	slice := func(ns, name, svc string, labels map[string]string, ips ...string) {
		s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
			AddressType: discoveryv1.AddressTypeIPv4}
		maps.Copy(s.Labels, labels)
		for i, ip := range ips {
			s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(i == 0)}})
		}
		mustCreate(s)
	}
	byEndpointSliceController := map[string]string{discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io", serving.RevisionLabelKey: "hello-00001"}
	slice("ns", "hello-00001-private-abc", "hello-00001-private", byEndpointSliceController, "10.0.0.1", "10.0.0.2")
	slice("csclr-system", "csclr-activator-abc", "csclr-activator", map[string]string{discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}, "10.1.0.1", "10.1.0.9")
	// Not read by the activator, so not cached: the public slice csclr's
	// controller writes, and slices of other Services.
	slice("ns", "hello-00001", "hello-00001", map[string]string{discoveryv1.LabelManagedBy: names.ManagedBy, serving.RevisionLabelKey: "hello-00001"}, "10.1.0.1")
	slice("ns", "other-abc", "other", map[string]string{discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}, "10.2.0.1")

	mustCreate(&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hello"}, Spec: networkingv1.IngressSpec{
		IngressClassName: ptr.To("csclr"),
		Rules: []networkingv1.IngressRule{{Host: "hello.ns.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
			Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{
				Service: &networkingv1.IngressServiceBackend{Name: "hello", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}}}}})
	mustCreate(&gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hello"}, Spec: gatewayv1.HTTPRouteSpec{
		CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Kind: ptr.To(gatewayv1.Kind("Service")), Group: ptr.To(gatewayv1.Group("")), Name: "hello", Port: ptr.To(gatewayv1.PortNumber(80))}}},
		Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{Name: "hello-00001", Port: ptr.To(gatewayv1.PortNumber(80))}, Weight: ptr.To(int32(100))}}}}}}})

	c, l, err := newCache(ctx, env.Config, Config{SystemNamespace: "csclr-system", ActivatorService: "csclr-activator"})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("cache never synced")
	}

	key := activator.Key{Namespace: "ns", Name: "hello-00001"}
	pods := l.RevisionPods(key)
	want := map[string]bool{"10.0.0.1": true, "10.0.0.2": false}
	if len(pods) != 2 {
		t.Fatalf("RevisionPods = %+v, want the two revision pods", pods)
	}
	for _, p := range pods {
		if r, ok := want[p.IP]; !ok || r != p.Ready {
			t.Errorf("pod %+v: want ready=%v", p, r)
		}
	}
	if info, ok := l.Revision(key); !ok || info.ContainerConcurrency != 3 || info.Timeout != 42*time.Second ||
		info.ResponseStartTimeout != 7*time.Second || info.IdleTimeout != 9*time.Second {
		t.Errorf("Revision = %+v, %v; want cc 3, timeout 42s", info, ok)
	}
	if ips := l.ReadyPodIPs(key); len(ips) != 1 || ips[0] != "10.0.0.1" {
		t.Errorf("ReadyPodIPs = %v, want [10.0.0.1]", ips)
	}
	var cached discoveryv1.EndpointSliceList
	if err := c.List(ctx, &cached); err != nil {
		t.Fatal(err)
	}
	var cachedNames []string
	for _, s := range cached.Items {
		cachedNames = append(cachedNames, s.Namespace+"/"+s.Name)
	}
	if slices.Sort(cachedNames); strings.Join(cachedNames, " ") != "csclr-system/csclr-activator-abc ns/hello-00001-private-abc" {
		t.Errorf("cached EndpointSlices %v, want only the private one and the activator's", cachedNames)
	}
	// Every activator is a peer (a draining one may hold KEDA's stream);
	// only the ready ones share the pods' capacity.
	if ips := l.ActivatorIPs(); len(ips) != 2 || ips[0] != "10.1.0.1" || ips[1] != "10.1.0.9" {
		t.Errorf("ActivatorIPs = %v, want [10.1.0.1 10.1.0.9]", ips)
	}
	if n := l.Replicas(); n != 1 {
		t.Errorf("Replicas = %d, want the 1 ready activator", n)
	}
	ings, err := l.Ingresses()
	if err != nil {
		t.Fatal(err)
	}
	hrs, err := l.HTTPRoutes()
	if err != nil {
		t.Fatal(err)
	}
	table := gateway.Build(ings, hrs, gateway.Options{IngressClass: "csclr", ClusterDomain: "cluster.local"})
	if got, ok := table.Resolve("hello.ns.example.com", http.Header{}, 0); !ok || got.Revision != key {
		t.Errorf("Resolve = %+v, %v; want %v", got, ok, key)
	}
}
