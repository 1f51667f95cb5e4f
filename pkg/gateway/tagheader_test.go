package gateway

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"csclr.dev/csclr/pkg/config"
	"csclr.dev/csclr/pkg/reconciler/route/resources"
)

func annotated(hr *gatewayv1.HTTPRoute, tags string) *gatewayv1.HTTPRoute {
	hr.Annotations = map[string]string{TagsAnnotation: tags}
	return hr
}

// Tags come from the header rules (then the header selects them) and from
// TagsAnnotation (tag hosts only); a rule wins over the annotation.
func TestBuildTagsAnnotation(t *testing.T) {
	hello := Key{Namespace: "ns", Name: "hello"}
	r1, r2 := Key{Namespace: "ns", Name: "hello-00001"}, Key{Namespace: "ns", Name: "hello-00002"}
	mainRule := gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{backend("hello-00001", 100)}}
	mainSplit := Split{Backends: []Backend{{Revision: r1, Weight: 100}}, total: 100}
	for _, tc := range []struct {
		name string
		hr   *gatewayv1.HTTPRoute
		want *Route
	}{{
		name: "annotation only: tags without the header",
		hr:   annotated(httpRoute("ns", "hello", mainRule), `{"next":[{"revision":"hello-00002","weight":100}],"both":[{"revision":"hello-00001","weight":1},{"revision":"hello-00002","weight":0}]}`),
		want: &Route{Key: hello, Main: mainSplit, Tags: map[string]Split{
			"next": {Backends: []Backend{{Revision: r2, Weight: 100}}, total: 100},
			"both": {Backends: []Backend{{Revision: r1, Weight: 1}}, total: 1},
		}},
	}, {
		name: "a header rule wins over the annotation and turns the header on",
		hr:   annotated(httpRoute("ns", "hello", mainRule, tagRule("next", backend("hello-00002", 100))), `{"next":[{"revision":"hello-00001","weight":100}]}`),
		want: &Route{Key: hello, Main: mainSplit, TagHeader: true, Tags: map[string]Split{
			"next": {Backends: []Backend{{Revision: r2, Weight: 100}}, total: 100},
		}},
	}, {
		name: "an annotation that does not parse adds nothing",
		hr:   annotated(httpRoute("ns", "hello", mainRule), `{"next":`),
		want: &Route{Key: hello, Main: mainSplit, Tags: map[string]Split{}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			table := Build([]*networkingv1.Ingress{ingress("ns", "hello", "csclr", "hello.ns.example.com", "next-hello.ns.example.com")},
				[]*gatewayv1.HTTPRoute{tc.hr}, opts)
			got, _ := table.Route(hello)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(Split{})); diff != "" {
				t.Errorf("route (-want +got):\n%s", diff)
			}
			for tag, s := range tc.want.Tags {
				for _, b := range s.Backends {
					if !table.revisions[b.Revision] {
						t.Errorf("revision %s of tag %s unknown to the table", b.Revision, tag)
					}
				}
			}
		})
	}
}

// A route without the header rules (tag-header-based-routing Disabled, the
// default) serves its tags on their tag hosts and ignores the header.
func TestResolveTagHeaderOff(t *testing.T) {
	hello := Key{Namespace: "ns", Name: "hello"}
	r1, r2 := Key{Namespace: "ns", Name: "hello-00001"}, Key{Namespace: "ns", Name: "hello-00002"}
	table := Build(
		[]*networkingv1.Ingress{ingress("ns", "hello", "csclr", "hello.ns.example.com", "candidate-hello.ns.example.com")},
		[]*gatewayv1.HTTPRoute{annotated(httpRoute("ns", "hello",
			gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{backend("hello-00001", 100)}},
		), `{"candidate":[{"revision":"hello-00002","weight":100}]}`)}, opts)
	tagged := http.Header{TagHeader: {"candidate"}}
	for _, tc := range []struct {
		name   string
		host   string
		header http.Header
		want   Target
	}{
		{name: "tag host", host: "candidate-hello.ns.example.com", want: Target{Revision: r2, Route: hello, Tag: "candidate"}},
		{name: "tag header on the main host is ignored", host: "hello.ns.example.com", header: tagged, want: Target{Revision: r1, Route: hello}},
		{name: "tag header on the apex Service host is ignored", host: "hello.ns.svc.cluster.local", header: tagged, want: Target{Revision: r1, Route: hello}},
		{name: "a tag's revision Service host", host: "hello-00002.ns.svc.cluster.local", want: Target{Revision: r2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header
			if h == nil {
				h = http.Header{}
			}
			if got, ok := table.Resolve(tc.host, h, 0); !ok || got != tc.want {
				t.Errorf("Resolve(%q) = %+v, %v; want %+v", tc.host, got, ok, tc.want)
			}
		})
	}
}

// The HTTPRoute csclr's Route reconciler builds, with config-features as
// given, makes the gateway honour the tag header exactly when
// tag-header-based-routing is Enabled; the tag host works either way.
func TestTagHeaderFollowsConfigFeatures(t *testing.T) {
	route := &v1.Route{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hello", UID: "uid"}}
	ts := []resources.Target{
		{TrafficTarget: v1.TrafficTarget{RevisionName: "hello-00001", Percent: ptr.To[int64](100), LatestRevision: ptr.To(false)}},
		{TrafficTarget: v1.TrafficTarget{RevisionName: "hello-00002", Percent: ptr.To[int64](0), LatestRevision: ptr.To(true), Tag: "candidate"}},
	}
	hello := Key{Namespace: "ns", Name: "hello"}
	r1, r2 := Key{Namespace: "ns", Name: "hello-00001"}, Key{Namespace: "ns", Name: "hello-00002"}
	for _, tc := range []struct {
		features map[string]string // nil: no config-features
		header   bool
	}{{nil, false}, {map[string]string{"tag-header-based-routing": "Disabled"}, false}, {map[string]string{"tag-header-based-routing": "Enabled"}, true}} {
		c := config.Default()
		if tc.features != nil {
			var err error
			if c, err = c.Parse(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: config.FeaturesName}, Data: tc.features}); err != nil {
				t.Fatal(err)
			}
		}
		hr := resources.MakeHTTPRoute(c.ToContext(context.Background()), route, ts, nil)
		table := Build([]*networkingv1.Ingress{ingress("ns", "hello", "csclr", "hello.ns.example.com", "candidate-hello.ns.example.com")},
			[]*gatewayv1.HTTPRoute{hr}, opts)
		want := Target{Revision: r1, Route: hello}
		if tc.header {
			want = Target{Revision: r2, Route: hello, Tag: "candidate"}
		}
		if got, ok := table.Resolve("hello.ns.example.com", http.Header{TagHeader: {"candidate"}}, 0); !ok || got != want {
			t.Errorf("config-features %v: the tag header on the main host gave %+v, %v; want %+v", tc.features, got, ok, want)
		}
		if got, ok := table.Resolve("candidate-hello.ns.example.com", http.Header{}, 0); !ok || got != (Target{Revision: r2, Route: hello, Tag: "candidate"}) {
			t.Errorf("config-features %v: the tag host gave %+v, %v", tc.features, got, ok)
		}
	}
}
