package resources

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"knative.dev/serving/pkg/reconciler/route/domains"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"csclr.dev/csclr/pkg/names"
)

// A traffic tag's URL, {tag}-{route}.{ns}.svc.cluster.local for a
// cluster-local Route (or under the default domain), names a Service in the
// Route's namespace, which must exist for in-cluster DNS to resolve it.
// Knative makes one per tag (its "placeholder" Services); csclr gives each
// tag the apex Service's shape: a selectorless Service whose EndpointSlice
// mirrors the activator's endpoints (the activator's in-cluster listener
// resolves the tag's name to the tag's split), and an HTTPRoute attached to
// it with the tag's split, so that Linkerd sends meshed callers of the tag
// host to the tag's revisions rather than through the apex's main split.

// TagLabelKey, set to the tag, marks the Service, EndpointSlice and
// HTTPRoute of one of a Route's tags (besides serving.knative.dev/route).
// The reconciler deletes the objects so labelled whose tag is gone, and a
// reader of HTTPRoutes tells a tag's HTTPRoute from a Route's own by it.
const TagLabelKey = "csclr.dev/tag"

// TagNames maps each tag to the name of its Service, EndpointSlice and
// HTTPRoute: the tag's host name before the domain (config-network's
// tag-template, {tag}-{route} by default), as Knative names its placeholder
// Services, so that the tag URL's in-cluster host is that Service's.
//
// Knative's validation bounds a tag and a Route name to 63 characters each,
// not the name they make together, and the tag template may make one that
// no Service can have: such a name, or one that another tag's or the Route's
// own objects have, is an error wrapping domains.ErrorDomainName (as
// Knative's own too-long host names are), for the Route's status.
func TagNames(ctx context.Context, route *v1.Route, tags []string) (map[string]string, error) {
	out := make(map[string]string, len(tags))
	taken := map[string]string{names.RouteService(route.Name): ""}
	for _, tag := range tags {
		name, err := domains.HostnameFromTemplate(ctx, route.Name, tag)
		if err != nil {
			return nil, err
		}
		if msgs := validation.IsDNS1035Label(name); len(msgs) > 0 {
			return nil, fmt.Errorf("%w: tag %q: %q is not a valid Service name: %s", domains.ErrorDomainName, tag, name, strings.Join(msgs, "; "))
		}
		if other, dup := taken[name]; dup {
			if other == "" {
				return nil, fmt.Errorf("%w: tag %q: its name %q is the route's own", domains.ErrorDomainName, tag, name)
			}
			return nil, fmt.Errorf("%w: tags %q and %q have the same name %q", domains.ErrorDomainName, other, tag, name)
		}
		taken[name] = tag
		out[tag] = name
	}
	return out, nil
}

// tagMeta is the metadata of tag's objects named name: the apex objects'
// (the Route's labels and annotations, owned by the Route) and TagLabelKey.
func tagMeta(route *v1.Route, tag, name string) metav1.ObjectMeta {
	meta := objectMeta(route, name)
	meta.Labels[TagLabelKey] = tag
	return meta
}

// MakeTagService builds the Service name of tag (TagNames): the apex
// Service's shape, so that the tag's in-cluster host reaches the activator
// for unmeshed callers and carries the tag's HTTPRoute for meshed ones.
func MakeTagService(route *v1.Route, tag, name string) *corev1.Service {
	return service(tagMeta(route, tag, name))
}

// MakeTagEndpointSlice gives tag's Service name the activator's endpoints,
// as MakeEndpointSlice does for the apex Service.
func MakeTagEndpointSlice(route *v1.Route, tag, name string, activator []discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return endpointSlice(tagMeta(route, tag, name), name, activator)
}

// MakeTagHTTPRoute builds the HTTPRoute name of tag, attached to the tag's
// Service: one rule with the tag's split over ts (all of it to its revision
// when it has one), the backends as in the main HTTPRoute. The Route's
// annotations csclr reads on the main HTTPRoute (TagsAnnotation,
// RolloutAnnotation) are left out: this one has neither tags nor a rollout.
func MakeTagHTTPRoute(route *v1.Route, tag, name string, ts []Target) *gatewayv1.HTTPRoute {
	meta := tagMeta(route, tag, name)
	delete(meta.Annotations, TagsAnnotation)
	delete(meta.Annotations, RolloutAnnotation)
	if len(meta.Annotations) == 0 {
		meta.Annotations = nil
	}
	return httpRoute(meta, name, []gatewayv1.HTTPRouteRule{{
		Matches:     []gatewayv1.HTTPRouteMatch{{Path: pathPrefixRoot()}},
		BackendRefs: backends(route.Namespace, tagSplit(ts, tag)),
	}})
}
