package route

import (
	"context"
	"strings"
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
	revresources "csclr.dev/csclr/pkg/reconciler/revision/resources"
	"csclr.dev/csclr/pkg/reconciler/route/resources"
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

// tagObjects reads the Service, EndpointSlice and HTTPRoute named name; a
// missing one is nil.
func tagObjects(t *testing.T, c client.Client, name string) (*corev1.Service, *discoveryv1.EndpointSlice, *gatewayv1.HTTPRoute) {
	t.Helper()
	key := client.ObjectKey{Namespace: "ns", Name: name}
	svc, slice, hr := &corev1.Service{}, &discoveryv1.EndpointSlice{}, &gatewayv1.HTTPRoute{}
	for _, obj := range []client.Object{svc, slice, hr} {
		if err := c.Get(context.Background(), key, obj); apierrors.IsNotFound(err) {
			switch obj.(type) {
			case *corev1.Service:
				svc = nil
			case *discoveryv1.EndpointSlice:
				slice = nil
			case *gatewayv1.HTTPRoute:
				hr = nil
			}
		} else if err != nil {
			t.Fatal(err)
		}
	}
	return svc, slice, hr
}

// addresses are the slice's endpoint addresses.
func addresses(s *discoveryv1.EndpointSlice) []string {
	var out []string
	for _, ep := range s.Endpoints {
		out = append(out, ep.Addresses...)
	}
	return out
}

// Each tag gets a Service, EndpointSlice and HTTPRoute of its name, kept
// in step with the tag's revision and the activator's endpoints, and
// deleted with the tag; objects the Route does not control are left alone.
func TestReconcileTagObjects(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakePassiveClock(time.Unix(1_000_000, 0))
	routeKey := client.ObjectKey{Namespace: "ns", Name: "hello"}
	owned := func(name, tag string) []client.Object {
		meta := metav1.ObjectMeta{Namespace: "ns", Name: name,
			Labels: map[string]string{serving.RouteLabelKey: "hello", resources.TagLabelKey: tag, revresources.ManagedByLabelKey: revresources.ManagedByValue,
				discoveryv1.LabelManagedBy: revresources.ManagedByValue},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "serving.knative.dev/v1", Kind: "Route", Name: "hello", UID: "route-uid", Controller: ptr.To(true)}}}
		return []client.Object{&corev1.Service{ObjectMeta: meta}, &discoveryv1.EndpointSlice{ObjectMeta: meta, AddressType: discoveryv1.AddressTypeIPv4},
			&gatewayv1.HTTPRoute{ObjectMeta: meta}}
	}
	// A tag removed while the controller was down, and objects of the same
	// labels that another owner (or nobody) controls.
	objs := append([]client.Object{testRoute(nil), configuration("hello-00001"), readyRevision("hello-00001"), readyRevision("hello-00002"), activatorSlice()},
		owned("gone-hello", "gone")...)
	for _, o := range owned("theirs-hello", "theirs") {
		o.SetOwnerReferences(nil)
		objs = append(objs, o)
	}
	r, c := newReconciler(t, clk, objs...)

	reconcileOnce(t, r)
	svc, slice, hr := tagObjects(t, c, "first-hello")
	if svc == nil || slice == nil || hr == nil {
		t.Fatalf("tag objects: service %v, endpointslice %v, httproute %v", svc != nil, slice != nil, hr != nil)
	}
	for _, obj := range []client.Object{svc, slice, hr} {
		if l := obj.GetLabels(); l[serving.RouteLabelKey] != "hello" || l[resources.TagLabelKey] != "first" || !metav1.IsControlledBy(obj, testRoute(nil)) {
			t.Errorf("%T labels %v, owners %v", obj, l, obj.GetOwnerReferences())
		}
	}
	if svc.Spec.Type != corev1.ServiceTypeClusterIP || len(svc.Spec.Selector) != 0 || len(svc.Spec.Ports) != 2 {
		t.Errorf("tag service spec = %+v", svc.Spec)
	}
	if got := addresses(slice); !cmp.Equal(got, []string{"10.1.0.1"}) || slice.Labels[discoveryv1.LabelServiceName] != "first-hello" {
		t.Errorf("tag endpointslice: addresses %v, labels %v", got, slice.Labels)
	}
	backendsOf := func(hr *gatewayv1.HTTPRoute) []string {
		var out []string
		for _, rule := range hr.Spec.Rules {
			for _, b := range rule.BackendRefs {
				out = append(out, string(b.Name))
			}
		}
		return out
	}
	if got := backendsOf(hr); !cmp.Equal(got, []string{"hello-00001"}) || hr.Spec.ParentRefs[0].Name != "first-hello" {
		t.Errorf("tag httproute: parent %v, backends %v", hr.Spec.ParentRefs, got)
	}
	if svc, slice, hr := tagObjects(t, c, "gone-hello"); svc != nil || slice != nil || hr != nil {
		t.Errorf("the removed tag's objects are still there")
	}
	if svc, slice, hr := tagObjects(t, c, "theirs-hello"); svc == nil || slice == nil || hr == nil {
		t.Errorf("objects the Route does not control were deleted")
	}

	// The tag moves to another revision and the activator gets a pod.
	route := &v1.Route{}
	_ = c.Get(ctx, routeKey, route)
	route.Spec.Traffic[1].RevisionName = "hello-00002"
	if err := c.Update(ctx, route); err != nil {
		t.Fatal(err)
	}
	act := activatorSlice()
	_ = c.Get(ctx, client.ObjectKeyFromObject(act), act)
	act.Endpoints = append(act.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.1.0.2"}})
	if err := c.Update(ctx, act); err != nil {
		t.Fatal(err)
	}
	reconcileOnce(t, r)
	_, slice, hr = tagObjects(t, c, "first-hello")
	if got := addresses(slice); !cmp.Equal(got, []string{"10.1.0.1", "10.1.0.2"}) {
		t.Errorf("tag endpointslice addresses after the activator scaled = %v", got)
	}
	if got := backendsOf(hr); !cmp.Equal(got, []string{"hello-00002"}) {
		t.Errorf("tag httproute backends after the tag moved = %v", got)
	}

	// While the traffic cannot be programmed (the tag's revision is gone),
	// the tag keeps being served, through the activator's current pods.
	if err := c.Delete(ctx, readyRevision("hello-00002")); err != nil {
		t.Fatal(err)
	}
	_ = c.Get(ctx, client.ObjectKeyFromObject(act), act)
	act.Endpoints = act.Endpoints[1:]
	if err := c.Update(ctx, act); err != nil {
		t.Fatal(err)
	}
	reconcileOnce(t, r)
	_, slice, _ = tagObjects(t, c, "first-hello")
	if got := addresses(slice); !cmp.Equal(got, []string{"10.1.0.2"}) {
		t.Errorf("tag endpointslice addresses while the traffic is not assigned = %v", got)
	}

	// The tag goes: so do its objects, and nothing else.
	_ = c.Get(ctx, routeKey, route)
	route.Spec.Traffic = route.Spec.Traffic[:1]
	if err := c.Update(ctx, route); err != nil {
		t.Fatal(err)
	}
	reconcileOnce(t, r)
	if svc, slice, hr := tagObjects(t, c, "first-hello"); svc != nil || slice != nil || hr != nil {
		t.Errorf("the tag's objects outlive it: service %v, endpointslice %v, httproute %v", svc != nil, slice != nil, hr != nil)
	}
	if svc, slice, hr := tagObjects(t, c, "hello"); svc == nil || slice == nil || hr == nil {
		t.Errorf("the apex objects went with the tag")
	}
	if svc, slice, hr := tagObjects(t, c, "theirs-hello"); svc == nil || slice == nil || hr == nil {
		t.Errorf("objects the Route does not control were deleted")
	}
	_ = c.Get(ctx, routeKey, route)
	if !route.IsReady() {
		t.Errorf("route not ready: %+v", route.Status.Conditions)
	}
}

// A tag whose name cannot be a Service's ({tag}-{route} longer than 63
// characters: Knative validates each alone) fails AllTrafficAssigned with
// Knative's ErrorConfig instead of failing the reconcile.
func TestReconcileTagNameTooLong(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Unix(1_000_000, 0))
	route := testRoute(nil)
	route.Spec.Traffic[1].Tag = strings.Repeat("t", 58) // and "-hello"
	r, c := newReconciler(t, clk, route, configuration("hello-00001"), readyRevision("hello-00001"), activatorSlice())
	reconcileOnce(t, r)
	got := &v1.Route{}
	_ = c.Get(context.Background(), client.ObjectKeyFromObject(route), got)
	cond := got.Status.GetCondition(v1.RouteConditionAllTrafficAssigned)
	if cond == nil || !cond.IsFalse() || cond.Reason != "ErrorConfig" || !strings.Contains(cond.Message, "must be no more than 63 characters") {
		t.Errorf("AllTrafficAssigned = %+v, want False/ErrorConfig", cond)
	}
	if got.IsReady() || len(got.Status.Traffic) != 0 {
		t.Errorf("ready %v, traffic %+v", got.IsReady(), got.Status.Traffic)
	}
}

// A tag whose name another owner's Service has: IngressReady False
// (NotOwned), as Knative reports a placeholder Service it does not own; the
// main traffic is programmed all the same.
func TestReconcileTagServiceNotOwned(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Unix(1_000_000, 0))
	theirs := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "first-hello"}}
	r, c := newReconciler(t, clk, testRoute(nil), configuration("hello-00001"), readyRevision("hello-00001"), activatorSlice(), theirs)
	if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "hello"}}); err == nil {
		t.Error("Reconcile succeeded with the tag's Service taken")
	}
	got := &v1.Route{}
	_ = c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "hello"}, got)
	cond := got.Status.GetCondition(v1.RouteConditionIngressReady)
	if cond == nil || !cond.IsFalse() || cond.Reason != "NotOwned" {
		t.Errorf("IngressReady = %+v, want False/NotOwned", cond)
	}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "hello"}, &gatewayv1.HTTPRoute{}); err != nil {
		t.Errorf("main HTTPRoute: %v", err)
	}
}
