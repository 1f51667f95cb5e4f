package resources

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/networking/pkg/apis/networking"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"

	"csclr.dev/csclr/pkg/config"
)

// configWith is csclr's default configuration with the given ConfigMaps'
// data applied, in a context as the reconciler has it.
func configWith(t *testing.T, data map[string]map[string]string) context.Context {
	t.Helper()
	c := config.Default()
	for name, d := range data {
		var err error
		if c, err = c.Parse(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: d}); err != nil {
			t.Fatal(err)
		}
	}
	return c.ToContext(context.Background())
}

// The Ingress carries a Route's public hosts only; a cluster-local Route,
// whatever its class and domain, gets none.
func TestMakeIngress(t *testing.T) {
	exampleDomain := map[string]map[string]string{config.DomainName: {"example.com": ""}}
	route := func(labels, annotations map[string]string) *v1.Route {
		r := testRoute()
		for k, v := range labels {
			r.Labels[k] = v
		}
		for k, v := range annotations {
			r.Annotations[k] = v
		}
		return r
	}
	clusterLocal := map[string]string{networking.VisibilityLabelKey: serving.VisibilityClusterLocal}
	nginx := map[string]string{networking.IngressClassAnnotationKey: "nginx"}
	// want is the Ingress of testRoute with those hosts, host tags and class.
	want := func(class, hostTags string, hosts ...string) *networkingv1.Ingress {
		meta := metav1.ObjectMeta{Name: "hello", Namespace: "ns",
			Labels:          map[string]string{serving.ServiceLabelKey: "hello", "team": "a", serving.RouteLabelKey: "hello"},
			Annotations:     map[string]string{serving.CreatorAnnotation: "alice"},
			OwnerReferences: []metav1.OwnerReference{routeRef()}}
		if class == "nginx" {
			meta.Annotations[networking.IngressClassAnnotationKey] = "nginx"
		}
		if hostTags != "" {
			meta.Annotations[HostTagsAnnotation] = hostTags
		}
		ing := &networkingv1.Ingress{ObjectMeta: meta, Spec: networkingv1.IngressSpec{IngressClassName: ptr.To(class)}}
		for _, h := range hosts {
			ing.Spec.Rules = append(ing.Spec.Rules, networkingv1.IngressRule{Host: h, IngressRuleValue: networkingv1.IngressRuleValue{
				HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
					Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
						Name: "hello", Port: networkingv1.ServiceBackendPort{Number: 80}}},
				}}},
			}})
		}
		return ing
	}

	for _, tc := range []struct {
		name   string
		config map[string]map[string]string
		route  *v1.Route
		tags   []string
		want   *networkingv1.Ingress
	}{{
		name:   "public: the main host and the tag hosts under the Route's domain, no cluster-local host",
		config: exampleDomain,
		route:  route(nil, nil),
		tags:   []string{"latest", "old"},
		want: want("csclr", `{"latest-hello.ns.example.com":"latest","old-hello.ns.example.com":"old"}`,
			"hello.ns.example.com", "latest-hello.ns.example.com", "old-hello.ns.example.com"),
	}, {
		name:  "public under the default domain: its hosts are svc.cluster.local names, public all the same",
		route: route(nil, nil),
		tags:  []string{"old"},
		want:  want("csclr", `{"old-hello.ns.svc.cluster.local":"old"}`, "hello.ns.svc.cluster.local", "old-hello.ns.svc.cluster.local"),
	}, {
		name:   "public, no tags: no host-tags annotation",
		config: exampleDomain,
		route:  route(nil, nil),
		want:   want("csclr", "", "hello.ns.example.com"),
	}, {
		name:   "public under an external class",
		config: exampleDomain,
		route:  route(nil, nginx),
		want:   want("nginx", "", "hello.ns.example.com"),
	}, {
		name:   "public, tag template of config-network",
		config: map[string]map[string]string{config.DomainName: {"example.com": ""}, config.NetworkName: {"tag-template": "{{.Name}}-{{.Tag}}"}},
		route:  route(nil, nil),
		tags:   []string{"old"},
		want:   want("csclr", `{"hello-old.ns.example.com":"old"}`, "hello-old.ns.example.com", "hello.ns.example.com"),
	}, {
		name:   "cluster-local: none",
		config: exampleDomain,
		route:  route(clusterLocal, nil),
		tags:   []string{"latest", "old"},
	}, {
		name:  "cluster-local under an external class: none",
		route: route(clusterLocal, nginx),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MakeIngress(configWith(t, tc.config), tc.route, tc.tags, IngressClass(tc.route, "csclr"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("MakeIngress (-want +got):\n%s", diff)
			}
		})
	}
}
