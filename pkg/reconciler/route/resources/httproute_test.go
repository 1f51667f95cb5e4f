package resources

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"csclr.dev/csclr/pkg/config"
)

// withFeatures is the reconcile context with config-features holding data
// (nil: no config-features, Knative's defaults).
func withFeatures(t *testing.T, data map[string]string) context.Context {
	t.Helper()
	c := config.Default()
	if data != nil {
		var err error
		if c, err = c.Parse(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: config.FeaturesName}, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	return c.ToContext(context.Background())
}

// The Knative-Serving-Tag header rules exist only with config-features'
// tag-header-based-routing Enabled (Knative's default is Disabled); the
// tags' splits are always in TagsAnnotation, for the tag hosts.
func TestMakeHTTPRoute(t *testing.T) {
	ts, _ := ResolveTraffic(testRoute(), lookup())
	parent := []gatewayv1.ParentReference{{Group: ptr.To(gatewayv1.Group("")), Kind: ptr.To(gatewayv1.Kind("Service")),
		Name: "hello", Port: ptr.To(gatewayv1.PortNumber(80))}}
	ro := &Rollout{Configurations: []ConfigurationRollout{{ConfigurationName: "hello", Percent: 80,
		Revisions: []RevisionShare{{"hello-00002", 80}}}}}
	mainRule := gatewayv1.HTTPRouteRule{Matches: []gatewayv1.HTTPRouteMatch{{Path: pathPrefixRoot()}},
		BackendRefs: []gatewayv1.HTTPBackendRef{backend("hello-00002", 80), backend("hello-00001", 20)}}
	tagRules := []gatewayv1.HTTPRouteRule{
		tagRule("latest", backend("hello-00002", 100)),
		tagRule("old", backend("hello-00001", 100)),
	}
	const tags = `{"latest":[{"revision":"hello-00002","weight":100}],"old":[{"revision":"hello-00001","weight":100}]}`
	for _, tc := range []struct {
		name      string
		ctx       context.Context
		wantRules []gatewayv1.HTTPRouteRule
	}{
		{name: "no config in the context: Knative's defaults", ctx: context.Background(), wantRules: []gatewayv1.HTTPRouteRule{mainRule}},
		{name: "no config-features", ctx: withFeatures(t, nil), wantRules: []gatewayv1.HTTPRouteRule{mainRule}},
		{name: "Disabled", ctx: withFeatures(t, map[string]string{"tag-header-based-routing": "Disabled"}), wantRules: []gatewayv1.HTTPRouteRule{mainRule}},
		{name: "Allowed is not Enabled", ctx: withFeatures(t, map[string]string{"tag-header-based-routing": "Allowed"}), wantRules: []gatewayv1.HTTPRouteRule{mainRule}},
		{name: "Enabled", ctx: withFeatures(t, map[string]string{"tag-header-based-routing": "Enabled"}), wantRules: append(tagRules, mainRule)},
		{name: "enabled, Knative's lower case", ctx: withFeatures(t, map[string]string{"tag-header-based-routing": "enabled"}), wantRules: append(tagRules, mainRule)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			meta := wantMeta("hello")
			meta.Annotations[RolloutAnnotation] = ro.String()
			meta.Annotations[TagsAnnotation] = tags
			want := &gatewayv1.HTTPRoute{
				ObjectMeta: meta,
				Spec:       gatewayv1.HTTPRouteSpec{CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: parent}, Rules: tc.wantRules},
			}
			if diff := cmp.Diff(want, MakeHTTPRoute(tc.ctx, testRoute(), ts, ro)); diff != "" {
				t.Errorf("MakeHTTPRoute (-want +got):\n%s", diff)
			}
		})
	}
}

// Without tags there is neither a header rule nor TagsAnnotation, even when
// the Route's own annotations carry one.
func TestMakeHTTPRouteWithoutTags(t *testing.T) {
	route := testRoute()
	route.Annotations[TagsAnnotation] = `{"x":[{"revision":"elsewhere","weight":100}]}`
	route.Spec.Traffic = route.Spec.Traffic[:1]
	ts, err := ResolveTraffic(route, lookup())
	if err != nil {
		t.Fatal(err)
	}
	hr := MakeHTTPRoute(withFeatures(t, map[string]string{"tag-header-based-routing": "Enabled"}), route, ts, nil)
	if diff := cmp.Diff(wantMeta("hello"), hr.ObjectMeta); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	if len(hr.Spec.Rules) != 1 || len(hr.Spec.Rules[0].Matches[0].Headers) != 0 {
		t.Errorf("rules = %+v, want the main rule alone", hr.Spec.Rules)
	}
}

// The cluster-IPs annotation is only ever the controller's: a copy on the
// Route (whose annotations its children get) would let one Route claim the
// IP of another's Service at the activator.
func TestWithClusterIPs(t *testing.T) {
	route := testRoute()
	route.Annotations = map[string]string{ClusterIPsAnnotation: "10.96.0.1", "team": "a"}
	for _, tc := range []struct {
		name string
		ips  []string
		want map[string]string
	}{
		{name: "the Service's IPs replace the Route's copy", ips: []string{"10.96.0.7", "fd00::7"},
			want: map[string]string{ClusterIPsAnnotation: "10.96.0.7,fd00::7", "team": "a"}},
		{name: "no IP yet: no annotation", want: map[string]string{"team": "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, hr := range []*gatewayv1.HTTPRoute{
				MakeHTTPRoute(context.Background(), route, nil, nil),
				MakeTagHTTPRoute(route, "next", "next-hello", nil),
			} {
				WithClusterIPs(hr, tc.ips)
				if !cmp.Equal(hr.Annotations, tc.want) {
					t.Errorf("%s annotations = %v, want %v", hr.Name, hr.Annotations, tc.want)
				}
			}
		})
	}
	bare := testRoute()
	bare.Annotations = nil
	hr := MakeHTTPRoute(context.Background(), bare, nil, nil)
	WithClusterIPs(hr, nil)
	if hr.Annotations != nil {
		t.Errorf("annotations = %#v, want nil (what the API server stores)", hr.Annotations)
	}
}
