package gateway

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

var opts = Options{IngressClass: "csclr", ClusterDomain: "cluster.local"}

func ingress(ns, name, class string, hosts ...string) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if class != "" {
		ing.Spec.IngressClassName = ptr.To(class)
	}
	for _, h := range hosts {
		ing.Spec.Rules = append(ing.Spec.Rules, networkingv1.IngressRule{Host: h})
	}
	return ing
}

func backend(rev string, weight int32) gatewayv1.HTTPBackendRef { return backendIn("ns", rev, weight) }

// backendIn is a backend as csclr's HTTPRoute of a route in ns has it.
func backendIn(ns, rev string, weight int32) gatewayv1.HTTPBackendRef {
	return gatewayv1.HTTPBackendRef{
		BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(rev), Port: ptr.To(gatewayv1.PortNumber(80))}, Weight: ptr.To(weight)},
		Filters: []gatewayv1.HTTPRouteFilter{{
			Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier,
			RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{Set: []gatewayv1.HTTPHeader{
				{Name: RevisionHeader, Value: rev}, {Name: NamespaceHeader, Value: ns}}},
		}},
	}
}

func httpRoute(ns, name string, rules ...gatewayv1.HTTPRouteRule) *gatewayv1.HTTPRoute {
	return &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: gatewayv1.HTTPRouteSpec{Rules: rules}}
}

func tagRule(tag string, refs ...gatewayv1.HTTPBackendRef) gatewayv1.HTTPRouteRule {
	return gatewayv1.HTTPRouteRule{
		Matches:     []gatewayv1.HTTPRouteMatch{{Headers: []gatewayv1.HTTPHeaderMatch{{Type: ptr.To(gatewayv1.HeaderMatchExact), Name: TagHeader, Value: tag}}}},
		BackendRefs: refs,
	}
}

func TestBuild(t *testing.T) {
	r1 := Key{Namespace: "ns", Name: "hello-00001"}
	r2 := Key{Namespace: "ns", Name: "hello-00002"}
	hello := Key{Namespace: "ns", Name: "hello"}
	private, privateRev := Key{Namespace: "ns", Name: "private"}, Key{Namespace: "ns", Name: "private-00001"}
	oneRevision := func(route, rev Key) *Route {
		return &Route{Key: route, Main: Split{Backends: []Backend{{Revision: rev, Weight: 100}}, total: 100}, Tags: map[string]Split{}}
	}
	helloRoute := &Route{
		Key:       hello,
		Main:      Split{Backends: []Backend{{Revision: r1, Weight: 90}, {Revision: r2, Weight: 10}}, total: 100},
		Tags:      map[string]Split{"candidate": {Backends: []Backend{{Revision: r2, Weight: 100}}, total: 100}},
		TagHeader: true,
	}
	tests := []struct {
		name       string
		ingresses  []*networkingv1.Ingress
		httpRoutes []*gatewayv1.HTTPRoute
		want       *Table
		// wantPublic are the public view's hosts; nil: the same as want's.
		wantPublic map[string]hostEntry
	}{{
		name: "empty",
		want: &Table{hosts: map[string]hostEntry{}, routes: map[Key]*Route{}, revisions: map[Key]bool{}, tagServices: map[Key]hostEntry{}, clusterDomain: "cluster.local"},
	}, {
		name: "split with a tag; main and tag hosts; other classes and orphans ignored",
		ingresses: []*networkingv1.Ingress{
			ingress("ns", "hello", "csclr", "hello.ns.example.com", "Candidate-Hello.ns.example.com"),
			ingress("ns", "other", "istio", "other.ns.example.com"),
			ingress("ns", "orphan", "csclr", "orphan.ns.example.com"),
		},
		httpRoutes: []*gatewayv1.HTTPRoute{httpRoute("ns", "hello",
			gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{backend("hello-00001", 90), backend("hello-00002", 10)}},
			tagRule("candidate", backend("hello-00002", 100)),
		)},
		want: &Table{
			hosts: map[string]hostEntry{
				"hello.ns.example.com":           {route: helloRoute},
				"candidate-hello.ns.example.com": {route: helloRoute, tag: "candidate"},
			},
			routes:        map[Key]*Route{hello: helloRoute},
			revisions:     map[Key]bool{r1: true, r2: true},
			tagServices:   map[Key]hostEntry{{Namespace: "ns", Name: "candidate-hello"}: {route: helloRoute, tag: "candidate"}},
			clusterDomain: "cluster.local",
		},
	}, {
		name: "an Ingress labelled cluster-local (an older csclr's) is not public",
		ingresses: []*networkingv1.Ingress{
			ingress("ns", "hello", "csclr", "hello.ns.example.com"),
			func() *networkingv1.Ingress {
				ing := ingress("ns", "private", "csclr", "private.ns.svc.cluster.local")
				ing.Labels = map[string]string{"networking.knative.dev/visibility": "cluster-local"}
				return ing
			}(),
		},
		httpRoutes: []*gatewayv1.HTTPRoute{
			httpRoute("ns", "hello", gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{backend("hello-00001", 100)}}),
			httpRoute("ns", "private", gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{backend("private-00001", 100)}}),
		},
		want: &Table{
			hosts: map[string]hostEntry{
				"hello.ns.example.com":         {route: oneRevision(hello, r1)},
				"private.ns.svc.cluster.local": {route: oneRevision(private, privateRev)},
			},
			routes:        map[Key]*Route{hello: oneRevision(hello, r1), private: oneRevision(private, privateRev)},
			revisions:     map[Key]bool{r1: true, privateRev: true},
			tagServices:   map[Key]hostEntry{},
			clusterDomain: "cluster.local",
		},
		wantPublic: map[string]hostEntry{"hello.ns.example.com": {route: oneRevision(hello, r1)}},
	}, {
		name: "zero weights dropped; default weight 1; legacy class annotation; backend name without header filter",
		ingresses: []*networkingv1.Ingress{func() *networkingv1.Ingress {
			ing := ingress("ns", "hello", "", "hello.ns.example.com")
			ing.Annotations = map[string]string{legacyIngressClassAnnotation: "csclr"}
			return ing
		}()},
		httpRoutes: []*gatewayv1.HTTPRoute{httpRoute("ns", "hello", gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{
			backend("hello-00001", 0),
			{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "hello-00002"}}},
		}})},
		want: func() *Table {
			r := &Route{Key: hello, Main: Split{Backends: []Backend{{Revision: r2, Weight: 1}}, total: 1}, Tags: map[string]Split{}}
			return &Table{
				hosts:         map[string]hostEntry{"hello.ns.example.com": {route: r}},
				routes:        map[Key]*Route{hello: r},
				revisions:     map[Key]bool{r2: true},
				tagServices:   map[Key]hostEntry{},
				clusterDomain: "cluster.local",
			}
		}(),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Build(tc.ingresses, tc.httpRoutes, opts)
			unexported := cmp.AllowUnexported(Table{}, hostEntry{}, Split{})
			if diff := cmp.Diff(tc.want, got, unexported, cmpopts.IgnoreFields(Table{}, "public")); diff != "" {
				t.Errorf("Build() (-want +got):\n%s", diff)
			}
			wantPublic := tc.wantPublic
			if wantPublic == nil {
				wantPublic = tc.want.hosts
			}
			pub := got.Public()
			if diff := cmp.Diff(wantPublic, pub.hosts, unexported); diff != "" || !pub.external || pub.Public() != pub {
				t.Errorf("Build().Public() hosts (-want +got):\n%s", diff)
			}
		})
	}
}

// A tag's own HTTPRoute (the controller's, attached to the tag's Service
// for Linkerd) is no Route: Build only learns the tag's in-cluster name
// from it, which a custom tag template makes other than {tag}-{route}.
func TestTagHTTPRoutes(t *testing.T) {
	tagged := func(hr *gatewayv1.HTTPRoute, route, tag string) *gatewayv1.HTTPRoute {
		hr.Labels = map[string]string{TagLabel: tag, "serving.knative.dev/route": route}
		return hr
	}
	table := Build(nil, []*gatewayv1.HTTPRoute{
		annotated(httpRoute("ns", "hello", gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{backend("hello-00001", 100)}}),
			`{"old":[{"revision":"hello-00000","weight":100}]}`),
		tagged(httpRoute("ns", "old-hello", gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{backend("hello-00000", 100)}}), "hello", "old"),
		tagged(httpRoute("ns", "hello-at-old", gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{backend("hello-00000", 100)}}), "hello", "old"),
		tagged(httpRoute("ns", "x-gone", gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{backend("gone-00001", 100)}}), "gone", "x"),
	}, opts)
	hello := Key{Namespace: "ns", Name: "hello"}
	old := Target{Revision: Key{Namespace: "ns", Name: "hello-00000"}, Route: hello, Tag: "old"}
	for _, tc := range []struct {
		host string
		want Target
		ok   bool
	}{
		{host: "old-hello.ns.svc.cluster.local", want: old, ok: true},
		{host: "hello-at-old.ns.svc.cluster.local", want: old, ok: true},
		{host: "hello.ns.svc.cluster.local", want: Target{Revision: Key{Namespace: "ns", Name: "hello-00001"}, Route: hello}, ok: true},
		{host: "x-gone.ns.svc.cluster.local"}, // its Route is unknown
	} {
		got, ok := table.Resolve(tc.host, http.Header{}, 0)
		if ok != tc.ok || got != tc.want {
			t.Errorf("Resolve(%q) = %+v, %v; want %+v, %v", tc.host, got, ok, tc.want, tc.ok)
		}
	}
	for _, name := range []string{"old-hello", "hello-at-old", "x-gone"} {
		if _, isRoute := table.Route(Key{Namespace: "ns", Name: name}); isRoute {
			t.Errorf("the tag HTTPRoute %s became a route", name)
		}
	}
	trimmed, _ := TrimHTTPRoute(tagged(httpRoute("ns", "old-hello"), "hello", "old"))
	if l := trimmed.(*gatewayv1.HTTPRoute).Labels; l[TagLabel] != "old" || l["serving.knative.dev/route"] != "hello" {
		t.Errorf("trimmed tag HTTPRoute labels %v, want its tag and route", l)
	}
}
