//go:build integration

package controller_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"csclr.dev/csclr/internal/testenv"
)

// A traffic tag's in-cluster host, {tag}-{route}.{ns}.svc.cluster.local,
// names a Service of the tag's own, shaped like the apex Service (so that
// DNS resolves the tag URL), with an EndpointSlice that follows the
// activator's and an HTTPRoute with the tag's split for meshed callers. The
// three go when the tag does.
func TestTagServices(t *testing.T) {
	ns := namespace(t)
	defer dump(t, ns, "tsvc")
	ctx := context.Background()

	// The activator's endpoints, which every Route's slices mirror.
	activator := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: system, Name: "csclr-activator-tagservices",
			Labels: map[string]string{discoveryv1.LabelServiceName: "csclr-activator"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.9.0.1"}}},
	}
	if err := k8s.Create(ctx, activator); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, activator) })

	svc := twoRevisions(t, ns, "tsvc")
	update(t, svc, func(s *v1.Service) {
		s.Spec.Traffic = []v1.TrafficTarget{
			{LatestRevision: ptr.To(true), Percent: ptr.To[int64](100)},
			{Tag: "old", RevisionName: "tsvc-00001", LatestRevision: ptr.To(false), Percent: ptr.To[int64](0)},
		}
	})
	eventually(t, "the tag is served", func() error {
		s := waitServiceCondition(t, ns, "tsvc", apis.ConditionReady, corev1.ConditionTrue, "")
		if len(s.Status.Traffic) != 2 || s.Status.Traffic[1].URL.String() != "http://old-tsvc."+ns+".svc.cluster.local" {
			return fmt.Errorf("status.traffic = %+v", s.Status.Traffic)
		}
		return nil
	})

	// The Service: the apex's shape under the tag's name.
	apex := get(t, ns, "tsvc", &corev1.Service{})
	tagSvc := get(t, ns, "old-tsvc", &corev1.Service{})
	controlledBy(t, tagSvc, "Route", "tsvc")
	if tagSvc.Spec.Type != corev1.ServiceTypeClusterIP || len(tagSvc.Spec.Selector) != 0 || !cmp.Equal(tagSvc.Spec.Ports, apex.Spec.Ports) {
		t.Errorf("tag service spec = %+v, want the apex's ports %+v, no selector", tagSvc.Spec, apex.Spec.Ports)
	}
	if l := tagSvc.Labels; l[serving.RouteLabelKey] != "tsvc" || l[serving.ServiceLabelKey] != "tsvc" || l["csclr.dev/managed-by"] != "controller.csclr.dev" || l["csclr.dev/tag"] != "old" {
		t.Errorf("tag service labels = %v", l)
	}

	// The EndpointSlice: the activator's endpoints, as the apex's has them,
	// following the activator's changes.
	endpoints := func(what string, want ...string) {
		t.Helper()
		eventually(t, what, func() error {
			for _, name := range []string{"tsvc", "old-tsvc"} {
				s := &discoveryv1.EndpointSlice{}
				if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
					return err
				}
				var got []string
				for _, ep := range s.Endpoints {
					got = append(got, ep.Addresses...)
				}
				if !cmp.Equal(got, want) || s.Labels[discoveryv1.LabelServiceName] != name {
					return fmt.Errorf("endpointslice %s: addresses %v, labels %v; want %v", name, got, s.Labels, want)
				}
			}
			return nil
		})
	}
	endpoints("the tag's endpoints are the activator's", "10.9.0.1")
	controlledBy(t, get(t, ns, "old-tsvc", &discoveryv1.EndpointSlice{}), "Route", "tsvc")
	update(t, activator, func(s *discoveryv1.EndpointSlice) {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.9.0.2"}})
	})
	endpoints("the tag's endpoints follow the activator's", "10.9.0.1", "10.9.0.2")

	// The HTTPRoute: attached to the tag's Service, the tag's split.
	hr := get(t, ns, "old-tsvc", &gatewayv1.HTTPRoute{})
	controlledBy(t, hr, "Route", "tsvc")
	if p := hr.Spec.ParentRefs; len(p) != 1 || p[0].Name != "old-tsvc" || *p[0].Kind != "Service" || *p[0].Port != 80 {
		t.Errorf("tag httproute parentRefs = %+v", p)
	}
	if r := hr.Spec.Rules; len(r) != 1 || len(r[0].BackendRefs) != 1 || r[0].BackendRefs[0].Name != "tsvc-00001" || *r[0].BackendRefs[0].Weight != 100 ||
		len(r[0].BackendRefs[0].Filters) != 1 || r[0].BackendRefs[0].Filters[0].Type != gatewayv1.HTTPRouteFilterRequestHeaderModifier {
		t.Errorf("tag httproute rules = %+v, want all to tsvc-00001 with the revision headers", r)
	}
	if hr.Labels["csclr.dev/tag"] != "old" || hr.Annotations["csclr.dev/tags"] != "" {
		t.Errorf("tag httproute labels %v, annotations %v", hr.Labels, hr.Annotations)
	}
	// What the apiserver stored is what was built: no update loop.
	testenv.WaitSettled(t, k8s, 2*time.Second, 20*time.Second, hr, tagSvc)

	// Each HTTPRoute names its Service's cluster IPs, by which the
	// activator knows a caller that dials the IP, and follows a new one.
	clusterIPs(t, ns, "old-tsvc")
	clusterIPs(t, ns, "tsvc")
	if err := k8s.Delete(ctx, apex); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the apex Service recreated with another IP", func() error {
		s := &corev1.Service{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(apex), s); err != nil {
			return err
		}
		if s.UID == apex.UID {
			return fmt.Errorf("not deleted yet")
		}
		return nil
	})
	clusterIPs(t, ns, "tsvc")

	// The tag goes: its objects go, the apex's stay.
	update(t, svc, func(s *v1.Service) {
		s.Spec.Traffic = []v1.TrafficTarget{{LatestRevision: ptr.To(true), Percent: ptr.To[int64](100)}}
	})
	eventually(t, "the tag's objects deleted", func() error {
		var left []string
		for _, obj := range []client.Object{&corev1.Service{}, &discoveryv1.EndpointSlice{}, &gatewayv1.HTTPRoute{}} {
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "old-tsvc"}, obj); !apierrors.IsNotFound(err) {
				left = append(left, fmt.Sprintf("%T (%v)", obj, err))
			}
		}
		if len(left) > 0 {
			return fmt.Errorf("still there: %v", left)
		}
		return nil
	})
	for _, obj := range []client.Object{&corev1.Service{}, &discoveryv1.EndpointSlice{}, &gatewayv1.HTTPRoute{}} {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "tsvc"}, obj); err != nil {
			t.Errorf("apex %T: %v", obj, err)
		}
	}
	s := waitServiceCondition(t, ns, "tsvc", apis.ConditionReady, corev1.ConditionTrue, "")
	if i := slices.IndexFunc(s.Status.Traffic, func(tt v1.TrafficTarget) bool { return tt.Tag != "" }); i >= 0 {
		t.Errorf("status.traffic still has a tag: %+v", s.Status.Traffic)
	}
}

// Knative bounds a tag and a Route name to 63 characters each, not the
// {tag}-{route} name a tag's Service gets: one too long for a Service is
// reported on the Route (AllTrafficAssigned False, Knative's ErrorConfig),
// and no tag object is attempted.
func TestTagNameTooLong(t *testing.T) {
	ns := namespace(t)
	defer dump(t, ns, "tlong")
	svc := twoRevisions(t, ns, "tlong")
	tag := strings.Repeat("t", 59) // 59 + len("-tlong") = 65
	update(t, svc, func(s *v1.Service) {
		s.Spec.Traffic = []v1.TrafficTarget{
			{LatestRevision: ptr.To(true), Percent: ptr.To[int64](100)},
			{Tag: tag, RevisionName: "tlong-00001", LatestRevision: ptr.To(false), Percent: ptr.To[int64](0)},
		}
	})
	eventually(t, "the route reports the tag", func() error {
		r := &v1.Route{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "tlong"}, r); err != nil {
			return err
		}
		c := r.Status.GetCondition(v1.RouteConditionAllTrafficAssigned)
		if r.Status.ObservedGeneration != r.Generation || c == nil || !c.IsFalse() || c.Reason != "ErrorConfig" ||
			!strings.Contains(c.Message, "must be no more than 63 characters") {
			return fmt.Errorf("observedGeneration %d/%d, AllTrafficAssigned = %+v", r.Status.ObservedGeneration, r.Generation, c)
		}
		return nil
	})
	waitServiceCondition(t, ns, "tlong", apis.ConditionReady, corev1.ConditionFalse, "")
}

// clusterIPs waits until the HTTPRoute name carries the cluster IPs of the
// Service name in its csclr.dev/cluster-ips annotation.
func clusterIPs(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, "httproute "+name+" names its Service's cluster IPs", func() error {
		svc, hr := &corev1.Service{}, &gatewayv1.HTTPRoute{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, svc); err != nil {
			return err
		}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, hr); err != nil {
			return err
		}
		want := strings.Join(svc.Spec.ClusterIPs, ",")
		if got := hr.Annotations["csclr.dev/cluster-ips"]; want == "" || got != want {
			return fmt.Errorf("annotation %q, Service's IPs %q", got, want)
		}
		return nil
	})
}
