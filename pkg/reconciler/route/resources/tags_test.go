package resources

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/networking/pkg/apis/networking"
	"knative.dev/serving/pkg/reconciler/route/domains"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"csclr.dev/csclr/pkg/config"
	revresources "csclr.dev/csclr/pkg/reconciler/revision/resources"
)

func TestTagNames(t *testing.T) {
	long := strings.Repeat("t", 63-len("-hello")) // {tag}-hello is 63 characters
	for _, tc := range []struct {
		name    string
		network map[string]string // config-network
		tags    []string
		want    map[string]string
		wantErr string // in the error, which then wraps domains.ErrorDomainName
	}{
		{name: "no tags", want: map[string]string{}},
		{name: "default template: {tag}-{route}", tags: []string{"latest", "old"},
			want: map[string]string{"latest": "latest-hello", "old": "old-hello"}},
		{name: "the tag template names them, as it names the hosts", network: map[string]string{"tag-template": "{{.Name}}-at-{{.Tag}}"},
			tags: []string{"old"}, want: map[string]string{"old": "hello-at-old"}},
		{name: "63 characters", tags: []string{long}, want: map[string]string{long: long + "-hello"}},
		{name: "64 characters: no Service can have the name", tags: []string{long + "x"},
			wantErr: `tag "` + long + `x": "` + long + `x-hello" is not a valid Service name: must be no more than 63 characters`},
		{name: "a template that makes a dotted name", network: map[string]string{"tag-template": "{{.Tag}}.{{.Name}}"},
			tags: []string{"old"}, wantErr: `"old.hello" is not a valid Service name`},
		{name: "a template without the tag: the route's own name", network: map[string]string{"tag-template": "{{.Name}}"},
			tags: []string{"old"}, wantErr: `tag "old": its name "hello" is the route's own`},
		{name: "a template without the tag: two tags, one name", network: map[string]string{"tag-template": "{{.Name}}-tag"},
			tags: []string{"latest", "old"}, wantErr: `tags "latest" and "old" have the same name "hello-tag"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := configWith(t, map[string]map[string]string{config.NetworkName: tc.network})
			got, err := TagNames(ctx, testRoute(), tc.tags)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, domains.ErrorDomainName) {
					t.Errorf("TagNames = %v, %v; want an ErrorDomainName with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("TagNames (-want +got):\n%s", diff)
			}
		})
	}
}

// wantTagMeta is the metadata of testRoute's objects for tag, named name.
func wantTagMeta(tag, name string) metav1.ObjectMeta {
	meta := wantMeta(name)
	meta.Labels[TagLabelKey] = tag
	return meta
}

// A tag's Service and EndpointSlice are the apex's under the tag's name,
// with the tag's label; the Route's own csclr.dev/tag label reaches neither
// the apex objects nor the tag's.
func TestMakeTagServiceAndEndpointSlice(t *testing.T) {
	activator := []discoveryv1.Endpoint{
		{Addresses: []string{"10.0.0.2"}},
		{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}},
	}
	route := testRoute()
	route.Labels[TagLabelKey] = "user-set"

	apex := MakeService(route)
	if _, ok := apex.Labels[TagLabelKey]; ok {
		t.Errorf("apex Service labels %v: the Route's %s is propagated", apex.Labels, TagLabelKey)
	}
	wantSvc := apex.DeepCopy()
	wantSvc.ObjectMeta = wantTagMeta("old", "old-hello")
	wantSvc.Labels[revresources.ManagedByLabelKey] = revresources.ManagedByValue
	if diff := cmp.Diff(wantSvc, MakeTagService(route, "old", "old-hello")); diff != "" {
		t.Errorf("MakeTagService (-want +got):\n%s", diff)
	}

	wantSlice := MakeEndpointSlice(route, activator)
	if len(wantSlice.Endpoints) != 1 {
		t.Fatalf("apex endpoints = %+v, want the ready one", wantSlice.Endpoints)
	}
	wantSlice.ObjectMeta = wantTagMeta("old", "old-hello")
	wantSlice.Labels[discoveryv1.LabelServiceName] = "old-hello"
	wantSlice.Labels[discoveryv1.LabelManagedBy] = revresources.ManagedByValue
	if diff := cmp.Diff(wantSlice, MakeTagEndpointSlice(route, "old", "old-hello", activator)); diff != "" {
		t.Errorf("MakeTagEndpointSlice (-want +got):\n%s", diff)
	}
}

// A tag's HTTPRoute is attached to the tag's Service and has one rule, the
// tag's split with the main HTTPRoute's backends (revision headers set);
// only Gateway API v1.2.1 fields, no filter but RequestHeaderModifier.
func TestMakeTagHTTPRoute(t *testing.T) {
	parent := func(name string) []gatewayv1.ParentReference {
		return []gatewayv1.ParentReference{{Group: ptr.To(gatewayv1.Group("")), Kind: ptr.To(gatewayv1.Kind("Service")),
			Name: gatewayv1.ObjectName(name), Port: ptr.To(gatewayv1.PortNumber(80))}}
	}
	h2c := func(ts []Target) []Target {
		for i := range ts {
			if ts[i].RevisionName == "hello-00001" {
				ts[i].Protocol = networking.ProtocolH2C
			}
		}
		return ts
	}
	resolved := func() []Target { ts, _ := ResolveTraffic(testRoute(), lookup()); return ts }
	// Two targets of one tag: a split, each revision reachable.
	twoRevisions := resolved()
	twoRevisions = append(twoRevisions, Target{TrafficTarget: twoRevisions[0].TrafficTarget, Protocol: networking.ProtocolHTTP1})
	twoRevisions[3].Tag, twoRevisions[3].Percent = "old", ptr.To[int64](0)
	h2cBackend := backend("hello-00001", 100)
	h2cBackend.Port = ptr.To(gatewayv1.PortNumber(81))

	for _, tc := range []struct {
		name, tag, hrName string
		ts                []Target
		annotations       map[string]string // on the Route, besides testRoute's
		want              []gatewayv1.HTTPBackendRef
	}{
		{name: "a pinned revision with 20%: all of the tag's traffic", tag: "old", hrName: "old-hello", ts: resolved(),
			want: []gatewayv1.HTTPBackendRef{backend("hello-00001", 100)}},
		{name: "the latest revision with 0%", tag: "latest", hrName: "latest-hello", ts: resolved(),
			want: []gatewayv1.HTTPBackendRef{backend("hello-00002", 100)}},
		{name: "two revisions under one tag", tag: "old", hrName: "old-hello", ts: twoRevisions,
			want: []gatewayv1.HTTPBackendRef{backend("hello-00001", 20), backend("hello-00002", 1)}},
		{name: "an h2c revision: port 81", tag: "old", hrName: "old-hello", ts: h2c(resolved()),
			want: []gatewayv1.HTTPBackendRef{h2cBackend}},
		{name: "the name the tag template made", tag: "old", hrName: "hello-at-old", ts: resolved(),
			want: []gatewayv1.HTTPBackendRef{backend("hello-00001", 100)}},
		{name: "csclr's own annotations are not the Route's to pass on", tag: "old", hrName: "old-hello", ts: resolved(),
			annotations: map[string]string{TagsAnnotation: `{"x":[]}`, RolloutAnnotation: "{}"},
			want:        []gatewayv1.HTTPBackendRef{backend("hello-00001", 100)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			route := testRoute()
			for k, v := range tc.annotations {
				route.Annotations[k] = v
			}
			want := &gatewayv1.HTTPRoute{
				ObjectMeta: wantTagMeta(tc.tag, tc.hrName),
				Spec: gatewayv1.HTTPRouteSpec{
					CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: parent(tc.hrName)},
					Rules: []gatewayv1.HTTPRouteRule{{
						Matches:     []gatewayv1.HTTPRouteMatch{{Path: pathPrefixRoot()}},
						BackendRefs: tc.want,
					}},
				},
			}
			if diff := cmp.Diff(want, MakeTagHTTPRoute(route, tc.tag, tc.hrName, tc.ts)); diff != "" {
				t.Errorf("MakeTagHTTPRoute (-want +got):\n%s", diff)
			}
		})
	}
}

// Without annotations of the Route's own, the tag's HTTPRoute has none (nil,
// as the API server stores it, so that no update loops).
func TestMakeTagHTTPRouteNoAnnotations(t *testing.T) {
	route := testRoute()
	route.Annotations = map[string]string{TagsAnnotation: "{}"}
	ts, _ := ResolveTraffic(route, lookup())
	if anns := MakeTagHTTPRoute(route, "old", "old-hello", ts).Annotations; anns != nil {
		t.Errorf("annotations = %#v, want nil", anns)
	}
}
