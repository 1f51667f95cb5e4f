package resources

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"knative.dev/networking/pkg/apis/networking"
	"knative.dev/pkg/apis"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"csclr.dev/csclr/pkg/config"
	revresources "csclr.dev/csclr/pkg/reconciler/revision/resources"
)

func testRoute() *v1.Route {
	return &v1.Route{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "ns", Name: "hello", UID: "route-uid",
			Labels:      map[string]string{serving.ServiceLabelKey: "hello", "team": "a"},
			Annotations: map[string]string{serving.CreatorAnnotation: "alice", corev1.LastAppliedConfigAnnotation: "{}"},
		},
		Spec: v1.RouteSpec{Traffic: []v1.TrafficTarget{
			{ConfigurationName: "hello", LatestRevision: ptr.To(true), Percent: ptr.To[int64](80)},
			{RevisionName: "hello-00001", LatestRevision: ptr.To(false), Percent: ptr.To[int64](20), Tag: "old"},
			{ConfigurationName: "hello", LatestRevision: ptr.To(true), Percent: ptr.To[int64](0), Tag: "latest"},
		}},
	}
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

func lookup() Lookup {
	cfg := &v1.Configuration{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hello"}}
	cfg.Status.LatestReadyRevisionName = "hello-00002"
	return Lookup{
		Configurations: map[string]*v1.Configuration{"hello": cfg},
		Revisions:      map[string]*v1.Revision{"hello-00001": readyRevision("hello-00001"), "hello-00002": readyRevision("hello-00002")},
	}
}

func routeRef() metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "serving.knative.dev/v1", Kind: "Route", Name: "hello", UID: "route-uid",
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
}

func wantMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Namespace: "ns", Name: name, OwnerReferences: []metav1.OwnerReference{routeRef()},
		Labels:      map[string]string{serving.ServiceLabelKey: "hello", "team": "a", serving.RouteLabelKey: "hello"},
		Annotations: map[string]string{serving.CreatorAnnotation: "alice"},
	}
}

func TestResolveTraffic(t *testing.T) {
	ts, err := ResolveTraffic(testRoute(), lookup())
	if err != nil {
		t.Fatalf("ResolveTraffic: %v", err)
	}
	want := []Target{
		{TrafficTarget: v1.TrafficTarget{ConfigurationName: "hello", RevisionName: "hello-00002", LatestRevision: ptr.To(true), Percent: ptr.To[int64](80)}, Protocol: networking.ProtocolHTTP1},
		{TrafficTarget: v1.TrafficTarget{ConfigurationName: "hello", RevisionName: "hello-00001", LatestRevision: ptr.To(false), Percent: ptr.To[int64](20), Tag: "old"}, Protocol: networking.ProtocolHTTP1},
		{TrafficTarget: v1.TrafficTarget{ConfigurationName: "hello", RevisionName: "hello-00002", LatestRevision: ptr.To(true), Percent: ptr.To[int64](0), Tag: "latest"}, Protocol: networking.ProtocolHTTP1},
	}
	if diff := cmp.Diff(want, ts); diff != "" {
		t.Errorf("ResolveTraffic (-want +got):\n%s", diff)
	}
}

func TestResolveTrafficErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		mutate     func(*Lookup)
		wantReason string
		wantStatus corev1.ConditionStatus
	}{{
		name:       "configuration missing",
		mutate:     func(l *Lookup) { delete(l.Configurations, "hello") },
		wantReason: "ConfigurationMissing", wantStatus: corev1.ConditionFalse,
	}, {
		name:       "revision missing",
		mutate:     func(l *Lookup) { delete(l.Revisions, "hello-00001") },
		wantReason: "RevisionMissing", wantStatus: corev1.ConditionFalse,
	}, {
		name:       "configuration not ready yet",
		mutate:     func(l *Lookup) { l.Configurations["hello"].Status.LatestReadyRevisionName = "" },
		wantReason: "RevisionMissing", wantStatus: corev1.ConditionUnknown,
	}, {
		name: "pinned revision failed",
		mutate: func(l *Lookup) {
			l.Revisions["hello-00001"].Status.MarkContainerHealthyFalse("ExitCode1", "boom")
		},
		wantReason: "RevisionMissing", wantStatus: corev1.ConditionFalse, // Knative's reason for a failed revision
	}} {
		t.Run(tc.name, func(t *testing.T) {
			l := lookup()
			tc.mutate(&l)
			ts, err := ResolveTraffic(testRoute(), l)
			if err == nil {
				t.Fatalf("ResolveTraffic = %v, want an error", ts)
			}
			rs := &v1.RouteStatus{}
			rs.InitializeConditions()
			err.Mark(rs)
			c := rs.GetCondition(v1.RouteConditionAllTrafficAssigned)
			if c.Reason != tc.wantReason || c.Status != tc.wantStatus {
				t.Errorf("AllTrafficAssigned = %s/%s, want %s/%s", c.Status, c.Reason, tc.wantStatus, tc.wantReason)
			}
		})
	}
}

func TestMakeService(t *testing.T) {
	meta := wantMeta("hello")
	meta.Labels[revresources.ManagedByLabelKey] = revresources.ManagedByValue
	want := &corev1.Service{
		ObjectMeta: meta,
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP,
			Ports: []corev1.ServicePort{
				{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8012)},
				{Name: "http2", Protocol: corev1.ProtocolTCP, AppProtocol: ptr.To("kubernetes.io/h2c"), Port: 81, TargetPort: intstr.FromInt32(8012)},
			},
		},
	}
	if diff := cmp.Diff(want, MakeService(testRoute())); diff != "" {
		t.Errorf("MakeService (-want +got):\n%s", diff)
	}
}

func TestMakeEndpointSlice(t *testing.T) {
	activator := []discoveryv1.Endpoint{
		{Addresses: []string{"10.0.0.2"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
		{Addresses: []string{"10.0.0.1"}},
		{Addresses: []string{"10.0.0.3"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}},
		{Addresses: []string{"fd00::1"}},
	}
	meta := wantMeta("hello")
	meta.Labels[discoveryv1.LabelServiceName] = "hello"
	meta.Labels[discoveryv1.LabelManagedBy] = revresources.ManagedByValue
	want := &discoveryv1.EndpointSlice{
		ObjectMeta:  meta,
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
			{Addresses: []string{"10.0.0.2"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
		},
		Ports: []discoveryv1.EndpointPort{
			{Name: ptr.To("http"), Port: ptr.To[int32](8012), Protocol: ptr.To(corev1.ProtocolTCP)},
			{Name: ptr.To("http2"), Port: ptr.To[int32](8012), Protocol: ptr.To(corev1.ProtocolTCP), AppProtocol: ptr.To("kubernetes.io/h2c")},
		},
	}
	if diff := cmp.Diff(want, MakeEndpointSlice(testRoute(), activator)); diff != "" {
		t.Errorf("MakeEndpointSlice (-want +got):\n%s", diff)
	}
}

func backend(rev string, weight int32) gatewayv1.HTTPBackendRef {
	return gatewayv1.HTTPBackendRef{
		BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{
				Group: ptr.To(gatewayv1.Group("")), Kind: ptr.To(gatewayv1.Kind("Service")),
				Name: gatewayv1.ObjectName(rev), Port: ptr.To(gatewayv1.PortNumber(80)),
			},
			Weight: ptr.To(weight),
		},
		Filters: []gatewayv1.HTTPRouteFilter{{
			Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier,
			RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{Set: []gatewayv1.HTTPHeader{
				{Name: "Knative-Serving-Revision", Value: rev}, {Name: "Knative-Serving-Namespace", Value: "ns"},
			}},
		}},
	}
}

func tagRule(tag string, backends ...gatewayv1.HTTPBackendRef) gatewayv1.HTTPRouteRule {
	return gatewayv1.HTTPRouteRule{
		Matches: []gatewayv1.HTTPRouteMatch{{
			Path:    pathPrefixRoot(),
			Headers: []gatewayv1.HTTPHeaderMatch{{Type: ptr.To(gatewayv1.HeaderMatchExact), Name: "Knative-Serving-Tag", Value: tag}},
		}},
		BackendRefs: backends,
	}
}

func TestURLs(t *testing.T) {
	c := config.Default()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: config.DomainName}, Data: map[string]string{"example.com": ""}}
	c, err := c.Parse(cm)
	if err != nil {
		t.Fatal(err)
	}
	ctx := c.ToContext(context.Background())
	route := testRoute()

	u, err := URL(ctx, route, "")
	if err != nil || u.String() != "http://hello.ns.example.com" {
		t.Errorf("URL = %v, %v", u, err)
	}
	if got := AddressURL(route).String(); got != "http://hello.ns.svc.cluster.local" {
		t.Errorf("AddressURL = %s", got)
	}
	ts, _ := ResolveTraffic(route, lookup())
	st, err := StatusTraffic(ctx, route, ts)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus := []v1.TrafficTarget{
		{RevisionName: "hello-00002", LatestRevision: ptr.To(true), Percent: ptr.To[int64](80)},
		{RevisionName: "hello-00001", LatestRevision: ptr.To(false), Percent: ptr.To[int64](20), Tag: "old",
			URL: &apis.URL{Scheme: "http", Host: "old-hello.ns.example.com"}},
		{RevisionName: "hello-00002", LatestRevision: ptr.To(true), Percent: ptr.To[int64](0), Tag: "latest",
			URL: &apis.URL{Scheme: "http", Host: "latest-hello.ns.example.com"}},
	}
	if diff := cmp.Diff(wantStatus, st); diff != "" {
		t.Errorf("StatusTraffic (-want +got):\n%s", diff)
	}

	local := route.DeepCopy()
	local.Labels[networking.VisibilityLabelKey] = serving.VisibilityClusterLocal
	if u, _ := URL(ctx, local, ""); u.String() != "http://hello.ns.svc.cluster.local" {
		t.Errorf("cluster-local URL = %v", u)
	}

	route.Annotations[networking.IngressClassAnnotationKey] = "nginx"
	if got := IngressClass(route, "csclr"); got != "nginx" {
		t.Errorf("IngressClass with annotation = %s", got)
	}
}

func TestRoutingState(t *testing.T) {
	for _, tc := range []struct {
		name   string
		state  v1.RoutingState
		anns   string
		routed bool
		want   string
		wantSt v1.RoutingState
	}{
		{"newly routed", v1.RoutingStatePending, "", true, "hello", v1.RoutingStateActive},
		{"another route keeps it active", v1.RoutingStateActive, "hello,other", false, "other", v1.RoutingStateActive},
		{"last route gone", v1.RoutingStateActive, "hello", false, "", v1.RoutingStateReserve},
		{"never routed stays pending", v1.RoutingStatePending, "", false, "", v1.RoutingStatePending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rev := &v1.Revision{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{serving.RoutesAnnotationKey: tc.anns}}}
			rev.SetRoutingState(tc.state, time.Unix(0, 0))
			got := RoutesWith(rev.Annotations, "hello", tc.routed)
			if got != tc.want {
				t.Errorf("RoutesWith = %q, want %q", got, tc.want)
			}
			if st := RoutingState(rev, got); st != tc.wantSt {
				t.Errorf("RoutingState = %q, want %q", st, tc.wantSt)
			}
		})
	}
}
