package resources

import (
	"context"
	"encoding/json"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/networking/pkg/apis/networking"
	apiscfg "knative.dev/serving/pkg/apis/config"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"csclr.dev/csclr/pkg/names"
	revresources "csclr.dev/csclr/pkg/reconciler/revision/resources"
)

// Headers Knative's ingress adds per split, by which the activator knows the
// revision a request was routed to, and the header that selects a tag on the
// main host (with config-features tag-header-based-routing Enabled).
const (
	RevisionHeader  = "Knative-Serving-Revision"
	NamespaceHeader = "Knative-Serving-Namespace"
	TagHeader       = "Knative-Serving-Tag"
)

// TagsAnnotation on the HTTPRoute holds each tag's split, a JSON object
// mapping the tag to its revisions and weights ([]TagWeight), the same
// weights as the tag's header rule. The gateway serves the tag hosts from
// it, whether or not the HTTPRoute has the header rules.
const TagsAnnotation = "csclr.dev/tags"

// TagWeight is one revision of a tag's split in TagsAnnotation.
type TagWeight struct {
	Revision string `json:"revision"`
	Weight   int32  `json:"weight"`
}

// MakeHTTPRoute builds the Route's HTTPRoute, attached to the apex Service
// (GAMMA): when config-features' tag-header-based-routing is Enabled (in
// ctx; Knative's default is Disabled), one rule per tag matching the
// Knative-Serving-Tag header and sending all of that tag's traffic to its
// revisions; then the main rule with the weighted split over every target.
// Each backend is a revision's public Service with the Knative revision
// headers set. Each tag's split is recorded in TagsAnnotation either way,
// for the tag hosts. Only Gateway API v1.2.1 fields are used, no
// RequestMirror/URLRewrite/ExtensionRef (Linkerd drops routes that use
// them), and every field the API server would default is set, so the stored
// object equals the built one. rollout is recorded in an annotation (nil:
// none).
func MakeHTTPRoute(ctx context.Context, route *v1.Route, ts []Target, rollout *Rollout) *gatewayv1.HTTPRoute {
	meta := objectMeta(route, names.HTTPRoute(route.Name))
	annotate := func(key, value string) {
		if meta.Annotations == nil {
			meta.Annotations = map[string]string{}
		}
		meta.Annotations[key] = value
	}
	if rollout != nil && len(rollout.Configurations) > 0 {
		annotate(RolloutAnnotation, rollout.String())
	}
	delete(meta.Annotations, TagsAnnotation) // only ever csclr's own
	tagHeader := apiscfg.FromContextOrDefaults(ctx).Features.TagHeaderBasedRouting == apiscfg.Enabled
	var rules []gatewayv1.HTTPRouteRule
	splits := map[string][]TagWeight{}
	for _, tag := range Tags(ts) {
		ws := tagSplit(ts, tag)
		for _, w := range ws {
			splits[tag] = append(splits[tag], TagWeight{Revision: w.revision, Weight: w.weight})
		}
		if !tagHeader {
			continue
		}
		rules = append(rules, gatewayv1.HTTPRouteRule{
			Matches: []gatewayv1.HTTPRouteMatch{{
				Path: pathPrefixRoot(),
				Headers: []gatewayv1.HTTPHeaderMatch{{
					Type: ptr.To(gatewayv1.HeaderMatchExact), Name: TagHeader, Value: tag,
				}},
			}},
			BackendRefs: backends(route.Namespace, ws),
		})
	}
	if len(splits) > 0 {
		b, _ := json.Marshal(splits) // map keys sorted: the same tags give the same text
		annotate(TagsAnnotation, string(b))
	}
	rules = append(rules, gatewayv1.HTTPRouteRule{
		Matches:     []gatewayv1.HTTPRouteMatch{{Path: pathPrefixRoot()}},
		BackendRefs: backends(route.Namespace, weighted(ts, false)),
	})
	return httpRoute(meta, names.RouteService(route.Name), rules)
}

// httpRoute is an HTTPRoute attached to port 80 of the Service named
// parent (GAMMA: Linkerd applies it to the callers of that Service).
func httpRoute(meta metav1.ObjectMeta, parent string, rules []gatewayv1.HTTPRouteRule) *gatewayv1.HTTPRoute {
	return &gatewayv1.HTTPRoute{
		ObjectMeta: meta,
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{
				Group: ptr.To(gatewayv1.Group("")),
				Kind:  ptr.To(gatewayv1.Kind("Service")),
				Name:  gatewayv1.ObjectName(parent),
				Port:  ptr.To(gatewayv1.PortNumber(revresources.HTTPServicePort)),
			}}},
			Rules: rules,
		},
	}
}

// tagSplit is the split of tag: its targets' revisions, each reachable.
func tagSplit(ts []Target, tag string) []revisionWeight {
	var tagged []Target
	for _, t := range ts {
		if t.Tag == tag {
			tagged = append(tagged, t)
		}
	}
	return weighted(tagged, true)
}

func pathPrefixRoot() *gatewayv1.HTTPPathMatch {
	return &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchPathPrefix), Value: ptr.To("/")}
}

// revisionWeight is one revision's share of a split.
type revisionWeight struct {
	revision string
	weight   int32
	protocol networking.ProtocolType
}

// weighted sums the targets' percent per revision, in first-seen order.
// Revisions without traffic are left out of the main split; a tag always
// reaches its revisions, all of it when the tag has only one.
func weighted(ts []Target, tag bool) []revisionWeight {
	weights := map[string]int32{}
	protocols := map[string]networking.ProtocolType{}
	var order []string
	for _, t := range ts {
		if _, ok := weights[t.RevisionName]; !ok {
			order = append(order, t.RevisionName)
		}
		weights[t.RevisionName] += int32(*t.Percent)
		protocols[t.RevisionName] = t.Protocol
	}
	var out []revisionWeight
	for _, rev := range order {
		w := weights[rev]
		switch {
		case tag && len(order) == 1:
			w = 100
		case tag && w == 0:
			w = 1
		case w == 0:
			continue
		}
		out = append(out, revisionWeight{revision: rev, weight: w, protocol: protocols[rev]})
	}
	return out
}

// backends are the split's backend references: each revision's public
// Service, with the Knative revision headers set.
func backends(namespace string, ws []revisionWeight) []gatewayv1.HTTPBackendRef {
	var out []gatewayv1.HTTPBackendRef
	for _, w := range ws {
		port := revresources.HTTPServicePort
		if w.protocol == networking.ProtocolH2C {
			port = revresources.H2CServicePort
		}
		out = append(out, gatewayv1.HTTPBackendRef{
			BackendRef: gatewayv1.BackendRef{
				BackendObjectReference: gatewayv1.BackendObjectReference{
					Group: ptr.To(gatewayv1.Group("")),
					Kind:  ptr.To(gatewayv1.Kind("Service")),
					Name:  gatewayv1.ObjectName(names.PublicService(w.revision)),
					Port:  ptr.To(gatewayv1.PortNumber(port)),
				},
				Weight: ptr.To(w.weight),
			},
			Filters: []gatewayv1.HTTPRouteFilter{{
				Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier,
				RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{Set: []gatewayv1.HTTPHeader{
					{Name: RevisionHeader, Value: w.revision},
					{Name: NamespaceHeader, Value: namespace},
				}},
			}},
		})
	}
	return out
}

// ClusterIPsAnnotation on an HTTPRoute lists the cluster IPs of the Service
// it is attached to (the apex Service, or a tag's), comma-separated. A
// caller that dials the Service by its IP sends that IP as its Host; the
// activator, which the Service's endpoints lead to, knows the Route by it.
const ClusterIPsAnnotation = "csclr.dev/cluster-ips"

// WithClusterIPs records ips in hr's ClusterIPsAnnotation, replacing any
// copy propagated from the Route's own annotations: the annotation is only
// ever csclr's, or one Route could claim another's IP.
func WithClusterIPs(hr *gatewayv1.HTTPRoute, ips []string) {
	delete(hr.Annotations, ClusterIPsAnnotation)
	if len(ips) > 0 {
		if hr.Annotations == nil {
			hr.Annotations = map[string]string{}
		}
		hr.Annotations[ClusterIPsAnnotation] = strings.Join(ips, ",")
	}
	if len(hr.Annotations) == 0 {
		hr.Annotations = nil
	}
}
