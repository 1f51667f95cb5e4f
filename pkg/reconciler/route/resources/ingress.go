package resources

import (
	"context"
	"encoding/json"
	"sort"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/ptr"
	"knative.dev/networking/pkg/apis/networking"
	v1 "knative.dev/serving/pkg/apis/serving/v1"

	"csclr.dev/csclr/pkg/names"
	revresources "csclr.dev/csclr/pkg/reconciler/revision/resources"
)

// HostTagsAnnotation on the Ingress maps each tag host to its tag (JSON
// object), so the gateway can send a tag host's requests through the
// HTTPRoute's rule for that tag.
const HostTagsAnnotation = "csclr.dev/host-tags"

// IngressClass is the Route's ingress class: its
// networking.knative.dev/ingress.class annotation, else the cluster default.
func IngressClass(route *v1.Route, clusterDefault string) string {
	if c := networking.IngressClassAnnotation.Value(route.Annotations); c != "" {
		return c
	}
	return clusterDefault
}

// MakeIngress builds the Route's Ingress, the request to expose its public
// host names outside the cluster: one rule per host (the main host and each
// tag host, under the Route's domain), each sending everything to the apex
// Service, whose HTTPRoute does the split. ctx carries the route config.
//
// A cluster-local Route (networking.knative.dev/visibility: cluster-local)
// has no public host, so it gets no Ingress: nil. An Ingress of any class
// would publish its hosts (an external class such as nginx at once, and
// csclr's own class on the gateway's public listener). In-cluster callers
// need none: the gateway's in-cluster listener, behind the apex Service,
// knows a Route's {name}.{ns}[.svc[.{cluster domain}]] and tag Service names
// from its HTTPRoute (pkg/gateway). With the default domain (Knative's
// svc.cluster.local) a public Route's hosts look like cluster-local ones;
// the label decides, not the name.
func MakeIngress(ctx context.Context, route *v1.Route, tags []string, class string) (*networkingv1.Ingress, error) {
	if ClusterLocal(route) {
		return nil, nil
	}
	hostTags := map[string]string{}
	hosts := map[string]bool{}
	for _, tag := range append([]string{""}, tags...) {
		h, err := Host(ctx, route, tag)
		if err != nil {
			return nil, err
		}
		hosts[h] = true
		if tag != "" {
			hostTags[h] = tag
		}
	}
	sorted := make([]string, 0, len(hosts))
	for h := range hosts {
		sorted = append(sorted, h)
	}
	sort.Strings(sorted)

	meta := objectMeta(route, names.Ingress(route.Name))
	if len(hostTags) > 0 {
		b, _ := json.Marshal(hostTags)
		if meta.Annotations == nil {
			meta.Annotations = map[string]string{}
		}
		meta.Annotations[HostTagsAnnotation] = string(b)
	}
	backend := networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
		Name: names.RouteService(route.Name),
		Port: networkingv1.ServiceBackendPort{Number: revresources.HTTPServicePort},
	}}
	rules := make([]networkingv1.IngressRule, 0, len(sorted))
	for _, h := range sorted {
		rules = append(rules, networkingv1.IngressRule{
			Host: h,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{
					Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix), Backend: backend,
				}},
			}},
		})
	}
	return &networkingv1.Ingress{
		ObjectMeta: meta,
		Spec:       networkingv1.IngressSpec{IngressClassName: ptr.To(class), Rules: rules},
	}, nil
}
