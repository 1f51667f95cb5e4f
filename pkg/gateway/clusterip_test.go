package gateway

import (
	"net/http"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// withIPs sets hr's ClusterIPsAnnotation.
func withIPs(hr *gatewayv1.HTTPRoute, ips string) *gatewayv1.HTTPRoute {
	if hr.Annotations == nil {
		hr.Annotations = map[string]string{}
	}
	hr.Annotations[ClusterIPsAnnotation] = ips
	return hr
}

// A caller that dials an apex or a tag Service by its cluster IP sends the
// IP as its Host; the in-cluster listener knows the IP from the Service's
// HTTPRoute, the public one does not.
func TestResolveClusterIP(t *testing.T) {
	tag := withIPs(httpRoute("ns", "next-hello", gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{backend("hello-00002", 100)}}), "10.96.0.8")
	tag.Labels = map[string]string{TagLabel: "next", "serving.knative.dev/route": "hello"}
	table := Build(
		[]*networkingv1.Ingress{ingress("ns", "hello", "csclr", "hello.ns.example.com")},
		[]*gatewayv1.HTTPRoute{
			withIPs(annotated(httpRoute("ns", "hello", gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{backend("hello-00001", 100)}}),
				`{"next":[{"revision":"hello-00002","weight":100}]}`), "10.96.0.7,fd00::7"),
			tag,
			// Claims the apex's IP (a stale annotation): "ns/hello" sorts first.
			withIPs(httpRoute("ns", "stale", gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{backend("stale-00001", 100)}}), "10.96.0.7"),
			// An unknown tag's route claims nothing.
			withIPs(func() *gatewayv1.HTTPRoute {
				hr := httpRoute("ns", "x-gone")
				hr.Labels = map[string]string{TagLabel: "x", "serving.knative.dev/route": "gone"}
				return hr
			}(), "10.96.0.9"),
		}, opts)
	hello := Key{Namespace: "ns", Name: "hello"}
	main := Target{Revision: Key{Namespace: "ns", Name: "hello-00001"}, Route: hello}
	next := Target{Revision: Key{Namespace: "ns", Name: "hello-00002"}, Route: hello, Tag: "next"}
	for _, tc := range []struct {
		host string
		want Target
		ok   bool
	}{
		{host: "10.96.0.7", want: main, ok: true},
		{host: "10.96.0.7:80", want: main, ok: true},
		{host: "[fd00::7]:81", want: main, ok: true},
		{host: "fd00::7", want: main, ok: true},
		{host: "10.96.0.8", want: next, ok: true},
		{host: "10.96.0.9"},
		{host: "10.96.0.10"},
	} {
		got, ok := table.Resolve(tc.host, http.Header{}, 0)
		if ok != tc.ok || got != tc.want {
			t.Errorf("Resolve(%q) = %+v, %v; want %+v, %v", tc.host, got, ok, tc.want, tc.ok)
		}
		if got, ok := table.Public().Resolve(tc.host, http.Header{}, 0); ok {
			t.Errorf("the public view resolved %q to %+v", tc.host, got)
		}
	}
	// The revision headers narrow an IP host's split as they do a name's.
	h := http.Header{RevisionHeader: {"stale-00001"}, NamespaceHeader: {"ns"}}
	if got, _ := table.Resolve("10.96.0.7", h, 0); got != main {
		t.Errorf("a header naming another route's revision chose %+v", got)
	}
}
