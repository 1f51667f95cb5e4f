package route

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"knative.dev/networking/pkg/apis/networking"
	"knative.dev/pkg/apis"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"csclr.dev/csclr/pkg/config"
)

func newReconciler(t *testing.T, clk *clocktesting.FakePassiveClock, objs ...client.Object) (*Reconciler, client.Client) {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1.AddToScheme, gatewayv1.Install} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	c := fake.NewClientBuilder().WithScheme(s).
		WithStatusSubresource(&v1.Route{}, &v1.Configuration{}, &v1.Revision{}).
		WithIndex(&v1.Configuration{}, RoutesIndex, RoutesOf).
		WithIndex(&v1.Revision{}, RoutesIndex, RoutesOf).
		WithObjects(objs...).Build()
	store := config.NewStore(config.DefaultSystemNamespace)
	return &Reconciler{Client: c, Recorder: events.NewFakeRecorder(1000), Clock: clk,
		WithConfig: store.ToContext, SystemNamespace: config.DefaultSystemNamespace}, c
}

func readyRevision(name string) *v1.Revision {
	r := &v1.Revision{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Generation: 1,
		Labels: map[string]string{serving.ConfigurationLabelKey: "hello"}}}
	r.Status.InitializeConditions()
	r.Status.MarkResourcesAvailableTrue()
	r.Status.MarkContainerHealthyTrue()
	r.Status.ObservedGeneration = 1
	return r
}

func configuration(latestReady string) *v1.Configuration {
	c := &v1.Configuration{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hello"}}
	c.Status.LatestReadyRevisionName = latestReady
	return c
}

func testRoute(anns map[string]string) *v1.Route {
	return &v1.Route{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hello", UID: "route-uid", Generation: 1, Annotations: anns,
			Finalizers: []string{Finalizer}},
		Spec: v1.RouteSpec{Traffic: []v1.TrafficTarget{
			{ConfigurationName: "hello", LatestRevision: ptr.To(true), Percent: ptr.To[int64](100)},
			{RevisionName: "hello-00001", LatestRevision: ptr.To(false), Percent: ptr.To[int64](0), Tag: "first"},
		}},
	}
}

func activatorSlice() *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: config.DefaultSystemNamespace, Name: "csclr-activator-abc",
			Labels: map[string]string{discoveryv1.LabelServiceName: "csclr-activator"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.1"}}},
	}
}

func reconcileOnce(t *testing.T, r *Reconciler) ctrl.Result {
	t.Helper()
	res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "hello"}})
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	return res
}

func TestReconcileProgramsTraffic(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Unix(1_000_000, 0))
	r, c := newReconciler(t, clk, testRoute(nil), configuration("hello-00001"), readyRevision("hello-00001"), activatorSlice())
	reconcileOnce(t, r)
	ctx := context.Background()
	key := client.ObjectKey{Namespace: "ns", Name: "hello"}

	route := &v1.Route{}
	_ = c.Get(ctx, key, route)
	if !route.IsReady() {
		t.Errorf("route not ready: %+v", route.Status.Conditions)
	}
	wantTraffic := []v1.TrafficTarget{
		{RevisionName: "hello-00001", LatestRevision: ptr.To(true), Percent: ptr.To[int64](100)},
		{RevisionName: "hello-00001", LatestRevision: ptr.To(false), Percent: ptr.To[int64](0), Tag: "first",
			URL: &apis.URL{Scheme: "http", Host: "first-hello.ns.svc.cluster.local"}},
	}
	if diff := cmp.Diff(wantTraffic, route.Status.Traffic); diff != "" {
		t.Errorf("status.traffic (-want +got):\n%s", diff)
	}
	if route.Status.URL.String() != "http://hello.ns.svc.cluster.local" || route.Status.Address.URL.String() != "http://hello.ns.svc.cluster.local" {
		t.Errorf("url = %v, address = %v", route.Status.URL, route.Status.Address.URL)
	}
	for _, obj := range []client.Object{&corev1.Service{}, &discoveryv1.EndpointSlice{}, &gatewayv1.HTTPRoute{}, &networkingv1.Ingress{}} {
		if err := c.Get(ctx, key, obj); err != nil {
			t.Errorf("%T: %v", obj, err)
		}
	}
	rev := &v1.Revision{}
	_ = c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "hello-00001"}, rev)
	if rev.GetRoutingState() != v1.RoutingStateActive || rev.Annotations[serving.RoutesAnnotationKey] != "hello" {
		t.Errorf("revision routing state = %q, routes = %q", rev.GetRoutingState(), rev.Annotations[serving.RoutesAnnotationKey])
	}
}

// A new revision of a configuration the route follows is created active and
// stays active while it becomes ready; the route keeps serving the old one.
func TestLatestCreatedRevisionStaysActive(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Unix(1_000_000, 0))
	cfg := configuration("hello-00001")
	cfg.Status.LatestCreatedRevisionName = "hello-00002"
	next := &v1.Revision{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hello-00002", Generation: 1,
		Labels:      map[string]string{serving.ConfigurationLabelKey: "hello"},
		Annotations: map[string]string{serving.RoutesAnnotationKey: "hello"}}}
	next.SetRoutingState(v1.RoutingStateActive, clk.Now())
	r, c := newReconciler(t, clk, testRoute(nil), cfg, readyRevision("hello-00001"), next, activatorSlice())
	reconcileOnce(t, r)
	for _, name := range []string{"hello-00001", "hello-00002"} {
		rev := &v1.Revision{}
		_ = c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: name}, rev)
		if rev.GetRoutingState() != v1.RoutingStateActive || rev.Annotations[serving.RoutesAnnotationKey] != "hello" {
			t.Errorf("%s: routing state %q, routes %q; want active, hello", name, rev.GetRoutingState(), rev.Annotations[serving.RoutesAnnotationKey])
		}
	}
}

func TestReconcileMissingConfiguration(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Unix(1_000_000, 0))
	r, c := newReconciler(t, clk, testRoute(nil), readyRevision("hello-00001"))
	reconcileOnce(t, r)
	route := &v1.Route{}
	_ = c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "hello"}, route)
	cond := route.Status.GetCondition(v1.RouteConditionAllTrafficAssigned)
	if cond == nil || cond.Reason != "ConfigurationMissing" || !cond.IsFalse() {
		t.Errorf("AllTrafficAssigned = %+v, want False/ConfigurationMissing", cond)
	}
}

func TestReconcileGradualRollout(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Unix(1_000_000, 0))
	route := testRoute(map[string]string{"serving.knative.dev/rollout-duration": "100s"})
	cfg := configuration("hello-00001")
	r, c := newReconciler(t, clk, route, cfg, readyRevision("hello-00001"), readyRevision("hello-00002"))
	reconcileOnce(t, r)
	ctx := context.Background()

	// A new latest ready revision starts a rollout.
	_ = c.Get(ctx, client.ObjectKeyFromObject(cfg), cfg)
	cfg.Status.LatestReadyRevisionName = "hello-00002"
	if err := c.Status().Update(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	clk.SetTime(clk.Now().Add(time.Second))
	if res := reconcileOnce(t, r); res.RequeueAfter != time.Second {
		t.Errorf("RequeueAfter = %v, want 1s", res.RequeueAfter)
	}
	got := &v1.Route{}
	_ = c.Get(ctx, client.ObjectKeyFromObject(route), got)
	if cond := got.Status.GetCondition(v1.RouteConditionIngressReady); cond.Reason != "RolloutInProgress" {
		t.Errorf("IngressReady = %+v, want RolloutInProgress", cond)
	}
	clk.SetTime(clk.Now().Add(50 * time.Second))
	reconcileOnce(t, r)
	_ = c.Get(ctx, client.ObjectKeyFromObject(route), got)
	var shares []int64
	for _, tt := range got.Status.Traffic {
		if tt.Tag == "" {
			shares = append(shares, *tt.Percent)
		}
	}
	if diff := cmp.Diff([]int64{50, 50}, shares); diff != "" {
		t.Errorf("split halfway (-want +got):\n%s", diff)
	}
	clk.SetTime(clk.Now().Add(60 * time.Second))
	if res := reconcileOnce(t, r); res.RequeueAfter != 0 {
		t.Errorf("RequeueAfter after the rollout = %v", res.RequeueAfter)
	}
	_ = c.Get(ctx, client.ObjectKeyFromObject(route), got)
	if !got.IsReady() || got.Status.Traffic[0].RevisionName != "hello-00002" || *got.Status.Traffic[0].Percent != 100 {
		t.Errorf("after the rollout: ready=%v traffic=%+v", got.IsReady(), got.Status.Traffic)
	}
}

func TestFinalizer(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Unix(1_000_000, 0))
	route := testRoute(nil)
	route.Finalizers = nil
	r, c := newReconciler(t, clk, route, configuration("hello-00001"), readyRevision("hello-00001"))
	ctx := context.Background()
	key := client.ObjectKeyFromObject(route)

	reconcileOnce(t, r) // adds the finalizer
	reconcileOnce(t, r) // programs the traffic
	got := &v1.Route{}
	_ = c.Get(ctx, key, got)
	if len(got.Finalizers) != 1 || got.Finalizers[0] != Finalizer {
		t.Fatalf("finalizers = %v", got.Finalizers)
	}
	rev := &v1.Revision{}
	_ = c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "hello-00001"}, rev)
	if rev.GetRoutingState() != v1.RoutingStateActive {
		t.Fatalf("routing state = %q, want active", rev.GetRoutingState())
	}

	if err := c.Delete(ctx, got); err != nil {
		t.Fatal(err)
	}
	reconcileOnce(t, r)
	if err := c.Get(ctx, key, got); !apierrors.IsNotFound(err) {
		t.Errorf("route still there after finalization: %v %v", got.Finalizers, err)
	}
	_ = c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "hello-00001"}, rev)
	if rev.GetRoutingState() != v1.RoutingStateReserve || rev.Annotations[serving.RoutesAnnotationKey] != "" {
		t.Errorf("after the route is gone: state %q, routes %q", rev.GetRoutingState(), rev.Annotations[serving.RoutesAnnotationKey])
	}
}

// A Route that becomes cluster-local loses the Ingress it owns (an Ingress
// publishes its hosts) and stays Ready; one it does not own is left alone.
// Made public again, it gets its Ingress back.
func TestClusterLocalRouteHasNoIngress(t *testing.T) {
	ctx := context.Background()
	key := client.ObjectKey{Namespace: "ns", Name: "hello"}
	setVisibility := func(t *testing.T, c client.Client, value string) {
		t.Helper()
		route := &v1.Route{}
		if err := c.Get(ctx, key, route); err != nil {
			t.Fatal(err)
		}
		route.Labels = map[string]string{}
		if value != "" {
			route.Labels[networking.VisibilityLabelKey] = value
		}
		if err := c.Update(ctx, route); err != nil {
			t.Fatal(err)
		}
	}
	ingressExists := func(c client.Client) bool {
		return !apierrors.IsNotFound(c.Get(ctx, key, &networkingv1.Ingress{}))
	}

	t.Run("owned", func(t *testing.T) {
		clk := clocktesting.NewFakePassiveClock(time.Unix(1_000_000, 0))
		r, c := newReconciler(t, clk, testRoute(nil), configuration("hello-00001"), readyRevision("hello-00001"), activatorSlice())
		reconcileOnce(t, r)
		if !ingressExists(c) {
			t.Fatal("a public route has no Ingress")
		}
		setVisibility(t, c, serving.VisibilityClusterLocal)
		reconcileOnce(t, r)
		if ingressExists(c) {
			t.Error("the Ingress of a cluster-local route is still there")
		}
		route := &v1.Route{}
		_ = c.Get(ctx, key, route)
		if !route.IsReady() || route.Status.Address == nil || route.Status.Address.URL.String() != "http://hello.ns.svc.cluster.local" {
			t.Errorf("cluster-local route: ready %v, address %v, conditions %+v", route.IsReady(), route.Status.Address, route.Status.Conditions)
		}
		for _, obj := range []client.Object{&corev1.Service{}, &discoveryv1.EndpointSlice{}, &gatewayv1.HTTPRoute{}} {
			if err := c.Get(ctx, key, obj); err != nil {
				t.Errorf("cluster-local route, %T (the in-cluster path): %v", obj, err)
			}
		}
		reconcileOnce(t, r) // nothing to delete: no error
		setVisibility(t, c, "")
		reconcileOnce(t, r)
		if !ingressExists(c) {
			t.Error("the route is public again but has no Ingress")
		}
	})

	t.Run("not owned", func(t *testing.T) {
		clk := clocktesting.NewFakePassiveClock(time.Unix(1_000_000, 0))
		route := testRoute(nil)
		route.Labels = map[string]string{networking.VisibilityLabelKey: serving.VisibilityClusterLocal}
		theirs := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hello"}}
		r, c := newReconciler(t, clk, route, configuration("hello-00001"), readyRevision("hello-00001"), activatorSlice(), theirs)
		reconcileOnce(t, r)
		if !ingressExists(c) {
			t.Error("an Ingress the route does not own was deleted")
		}
	})
}
