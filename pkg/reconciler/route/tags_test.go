package route

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	revresources "csclr.dev/csclr/pkg/reconciler/revision/resources"
	"csclr.dev/csclr/pkg/reconciler/route/resources"
)

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
