package gateway

import (
	"context"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/networking/pkg/apis/networking"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"csclr.dev/csclr/pkg/config"
	"csclr.dev/csclr/pkg/reconciler/route/resources"
)

// visibilityTable is what csclr writes for four Routes: hello (public,
// domain example.com, split 90/10, tag candidate whose header rule turns
// the tag header on), world in namespace other (public under the default
// domain svc.cluster.local, so its public host is also a Service name), and
// private (cluster-local: an HTTPRoute, no Ingress; tag next; someone
// else's Ingress bears its name), and edge (public, its Ingress of class
// nginx).
func visibilityTable() *Table {
	return Build(
		[]*networkingv1.Ingress{
			ingress("ns", "hello", "csclr", "hello.ns.example.com", "candidate-hello.ns.example.com"),
			ingress("other", "world", "csclr", "world.other.svc.cluster.local"),
			// A Route published by another ingress controller, which sends
			// its host to the apex Service (the in-cluster listener).
			routeLabelled(ingress("ns", "edge", "nginx", "edge.ns.example.com")),
			// Someone else's Ingress named like a Route.
			ingress("ns", "private", "nginx", "sneaky.example.com"),
		},
		[]*gatewayv1.HTTPRoute{
			httpRoute("ns", "hello",
				gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{backend("hello-00001", 90), backend("hello-00002", 10)}},
				tagRule("candidate", backend("hello-00002", 100)),
			),
			httpRoute("other", "world", gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{backendIn("other", "world-00001", 100)}}),
			httpRoute("ns", "edge", gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{backend("edge-00001", 100)}}),
			annotated(httpRoute("ns", "private", gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{backend("private-00001", 100)}}),
				`{"next":[{"revision":"private-00002","weight":100}]}`),
		}, opts)
}

// The public view resolves the Ingress hosts of public Routes and nothing
// else; the in-cluster view resolves those and every Service name, as
// before. Every draw is rnd.
func TestResolvePublicAndInCluster(t *testing.T) {
	hello, world, private := Key{Namespace: "ns", Name: "hello"}, Key{Namespace: "other", Name: "world"}, Key{Namespace: "ns", Name: "private"}
	r1, r2 := Key{Namespace: "ns", Name: "hello-00001"}, Key{Namespace: "ns", Name: "hello-00002"}
	w1 := Key{Namespace: "other", Name: "world-00001"}
	p1, p2 := Key{Namespace: "ns", Name: "private-00001"}, Key{Namespace: "ns", Name: "private-00002"}
	naming := func(ns, rev string) http.Header { return http.Header{RevisionHeader: {rev}, NamespaceHeader: {ns}} }
	none := Target{}
	tests := []struct {
		name      string
		host      string
		header    http.Header
		rnd       uint64
		public    Target // zero: 404
		inCluster Target // zero: 404
	}{
		// Public Routes' Ingress hosts: the same answer on both.
		{name: "main host, low draw", host: "hello.ns.example.com", public: Target{Revision: r1, Route: hello}, inCluster: Target{Revision: r1, Route: hello}},
		{name: "main host, high draw", host: "HELLO.ns.example.com:80", rnd: 95, public: Target{Revision: r2, Route: hello}, inCluster: Target{Revision: r2, Route: hello}},
		{name: "tag host", host: "candidate-hello.ns.example.com", public: Target{Revision: r2, Route: hello, Tag: "candidate"}, inCluster: Target{Revision: r2, Route: hello, Tag: "candidate"}},
		{name: "tag header on the main host", host: "hello.ns.example.com", header: http.Header{TagHeader: {"candidate"}},
			public: Target{Revision: r2, Route: hello, Tag: "candidate"}, inCluster: Target{Revision: r2, Route: hello, Tag: "candidate"}},
		{name: "public under the default domain", host: "world.other.svc.cluster.local", public: Target{Revision: w1, Route: world}, inCluster: Target{Revision: w1, Route: world}},

		// Outside, the revision-naming headers do not pick within the split:
		// only the draw does.
		{name: "main host, revision header names the minor target", host: "hello.ns.example.com", header: naming("ns", "hello-00002"),
			public: Target{Revision: r1, Route: hello}, inCluster: Target{Revision: r2, Route: hello}},
		{name: "main host, l5d-dst-canonical names the minor target", host: "hello.ns.example.com", header: http.Header{LinkerdDstHeader: {"hello-00002.ns.svc.cluster.local:80"}},
			public: Target{Revision: r1, Route: hello}, inCluster: Target{Revision: r2, Route: hello}},

		// Service names: the cluster's own, unknown outside it.
		{name: "a public route's apex Service", host: "hello.ns.svc.cluster.local", public: none, inCluster: Target{Revision: r1, Route: hello}},
		{name: "a public route's apex Service, .svc", host: "hello.ns.svc", public: none, inCluster: Target{Revision: r1, Route: hello}},
		{name: "a public route's short name with the namespace header", host: "hello", header: http.Header{NamespaceHeader: {"ns"}}, public: none, inCluster: Target{Revision: r1, Route: hello}},
		{name: "a routed revision's Service", host: "hello-00002.ns.svc.cluster.local", public: none, inCluster: Target{Revision: r2}},
		{name: "a public route's tag, in-cluster name", host: "candidate-hello.ns.svc.cluster.local", public: none, inCluster: Target{Revision: r2, Route: hello, Tag: "candidate"}},

		// The cluster-local route: in the cluster only.
		{name: "cluster-local route", host: "private.ns.svc.cluster.local", public: none, inCluster: Target{Revision: p1, Route: private}},
		{name: "cluster-local route, {name}.{ns}", host: "private.ns", public: none, inCluster: Target{Revision: p1, Route: private}},
		{name: "cluster-local route's tag", host: "next-private.ns.svc.cluster.local", public: none, inCluster: Target{Revision: p2, Route: private, Tag: "next"}},
		{name: "cluster-local route's tag, .svc", host: "next-private.ns.svc", public: none, inCluster: Target{Revision: p2, Route: private, Tag: "next"}},
		{name: "cluster-local route's revision", host: "private-00001.ns.svc.cluster.local", public: none, inCluster: Target{Revision: p1}},
		{name: "cluster-local route's revision named on a public host", host: "hello.ns.example.com", header: naming("ns", "private-00001"),
			public: Target{Revision: r1, Route: hello}, inCluster: Target{Revision: r1, Route: hello}},

		{name: "a Route's own Ingress of another class: through the apex Service only", host: "edge.ns.example.com",
			public: none, inCluster: Target{Revision: Key{Namespace: "ns", Name: "edge-00001"}, Route: Key{Namespace: "ns", Name: "edge"}}},
		{name: "another class's Ingress no Route owns", host: "sneaky.example.com", public: none, inCluster: none},
		{name: "unknown host", host: "example.com", public: none, inCluster: none},
		{name: "unknown tag of a route", host: "old-private.ns.svc.cluster.local", public: none, inCluster: none},
	}
	table := visibilityTable()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header
			if h == nil {
				h = http.Header{}
			}
			for _, view := range []struct {
				name  string
				table *Table
				want  Target
			}{{"public", table.Public(), tc.public}, {"in-cluster", table, tc.inCluster}} {
				got, ok := view.table.Resolve(tc.host, h, tc.rnd)
				if wantOK := view.want != none; ok != wantOK || got != view.want {
					t.Errorf("%s: Resolve(%q, %v) = %+v, %v; want %+v, %v", view.name, tc.host, h, got, ok, view.want, wantOK)
				}
			}
		})
	}
}

// What csclr's Route reconciler builds for a public and a cluster-local
// Route (pkg/reconciler/route/resources) reaches the gateway's views as it
// should: the public Route on both, the cluster-local one in the cluster
// only, its tag included.
func TestRouteVisibilityReachesTheViews(t *testing.T) {
	c, err := config.Default().Parse(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: config.DomainName}, Data: map[string]string{"example.com": ""}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := c.ToContext(context.Background())
	targets := func(name string) []resources.Target {
		return []resources.Target{
			{TrafficTarget: v1.TrafficTarget{RevisionName: name + "-00001", Percent: ptr.To[int64](100), LatestRevision: ptr.To(false)}},
			{TrafficTarget: v1.TrafficTarget{RevisionName: name + "-00002", Percent: ptr.To[int64](0), LatestRevision: ptr.To(true), Tag: "next"}},
		}
	}
	var ings []*networkingv1.Ingress
	var hrs []*gatewayv1.HTTPRoute
	for _, route := range []*v1.Route{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hello", UID: "1"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "private", UID: "2",
			Labels: map[string]string{networking.VisibilityLabelKey: serving.VisibilityClusterLocal}}},
	} {
		ts := targets(route.Name)
		ing, err := resources.MakeIngress(ctx, route, resources.Tags(ts), "csclr")
		if err != nil {
			t.Fatal(err)
		}
		if ing != nil {
			ings = append(ings, ing)
		}
		hrs = append(hrs, resources.MakeHTTPRoute(ctx, route, ts, nil))
	}
	if len(ings) != 1 {
		t.Fatalf("%d Ingresses, want the public route's alone", len(ings))
	}
	table := Build(ings, hrs, opts)
	for _, tc := range []struct {
		host              string
		public, inCluster bool
	}{
		{"hello.ns.example.com", true, true},
		{"next-hello.ns.example.com", true, true},
		{"hello.ns.svc.cluster.local", false, true},
		{"next-hello.ns.svc.cluster.local", false, true},
		{"private.ns.example.com", false, false},
		{"private.ns.svc.cluster.local", false, true},
		{"next-private.ns.svc.cluster.local", false, true},
	} {
		if _, ok := table.Public().Resolve(tc.host, http.Header{}, 0); ok != tc.public {
			t.Errorf("public view, %s: resolved %v, want %v", tc.host, ok, tc.public)
		}
		if _, ok := table.Resolve(tc.host, http.Header{}, 0); ok != tc.inCluster {
			t.Errorf("in-cluster view, %s: resolved %v, want %v", tc.host, ok, tc.inCluster)
		}
	}
}

// routeLabelled labels an Ingress as its Route's own, as the controller does.
func routeLabelled(ing *networkingv1.Ingress) *networkingv1.Ingress {
	ing.Labels = map[string]string{serving.RouteLabelKey: ing.Name}
	return ing
}

// With a custom tag template the tag host's first label is not
// {tag}-{route}: the Ingress's host-tags annotation tells the gateway which
// tag a public host is, through the trim of the activator's cache too.
func TestCustomTagTemplateHosts(t *testing.T) {
	c, err := config.Default().Parse(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: config.DomainName}, Data: map[string]string{"example.com": ""}})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = c.Parse(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: config.NetworkName}, Data: map[string]string{"tag-template": "{{.Name}}-at-{{.Tag}}"}}); err != nil {
		t.Fatal(err)
	}
	ctx := c.ToContext(context.Background())
	route := &v1.Route{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hello", UID: "1"}}
	ts := []resources.Target{
		{TrafficTarget: v1.TrafficTarget{RevisionName: "hello-00001", Percent: ptr.To[int64](100), LatestRevision: ptr.To(false)}},
		{TrafficTarget: v1.TrafficTarget{RevisionName: "hello-00002", Percent: ptr.To[int64](0), LatestRevision: ptr.To(true), Tag: "next"}},
	}
	ing, err := resources.MakeIngress(ctx, route, resources.Tags(ts), "csclr")
	if err != nil {
		t.Fatal(err)
	}
	trimmed, err := TrimIngress(ing)
	if err != nil {
		t.Fatal(err)
	}
	table := Build([]*networkingv1.Ingress{trimmed.(*networkingv1.Ingress)}, []*gatewayv1.HTTPRoute{resources.MakeHTTPRoute(ctx, route, ts, nil)}, opts)
	want := Target{Revision: Key{Namespace: "ns", Name: "hello-00002"}, Route: Key{Namespace: "ns", Name: "hello"}, Tag: "next"}
	for _, view := range []*Table{table.Public(), table} {
		if got, ok := view.Resolve("hello-at-next.ns.example.com", http.Header{}, 0); !ok || got != want {
			t.Errorf("tag host: %+v, %v; want %+v", got, ok, want)
		}
	}
}
