package gateway

import (
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/networking/pkg/apis/networking"
	"knative.dev/serving/pkg/apis/serving"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// TrimIngress and TrimHTTPRoute are informer-cache transforms (client-go's
// TransformFunc) for a gateway that caches every Ingress and HTTPRoute of
// a cluster: they keep what Build reads (the spec, csclr's annotations,
// and an Ingress's visibility label) and drop the rest (status, other
// labels and annotations). Anything else passes unchanged.

func TrimIngress(in any) (any, error) {
	ing, ok := in.(*networkingv1.Ingress)
	if !ok {
		return in, nil
	}
	meta := keep(ing.ObjectMeta, legacyIngressClassAnnotation, HostTagsAnnotation)
	for _, k := range []string{networking.VisibilityLabelKey, serving.RouteLabelKey} {
		if v, ok := ing.Labels[k]; ok {
			if meta.Labels == nil {
				meta.Labels = map[string]string{}
			}
			meta.Labels[k] = v
		}
	}
	return &networkingv1.Ingress{ObjectMeta: meta, Spec: ing.Spec}, nil
}

func TrimHTTPRoute(in any) (any, error) {
	hr, ok := in.(*gatewayv1.HTTPRoute)
	if !ok {
		return in, nil
	}
	spec := hr.Spec
	spec.ParentRefs = nil // where the route attaches; Build routes by the Ingress hosts
	meta := keep(hr.ObjectMeta, TagsAnnotation, ClusterIPsAnnotation)
	if tag := hr.Labels[TagLabel]; tag != "" {
		// A tag's HTTPRoute: Build needs the tag and its Route.
		meta.Labels = map[string]string{TagLabel: tag, serving.RouteLabelKey: hr.Labels[serving.RouteLabelKey]}
	}
	return &gatewayv1.HTTPRoute{ObjectMeta: meta, Spec: spec}, nil
}

// keep is m's identity and the annotations named.
func keep(m metav1.ObjectMeta, annotations ...string) metav1.ObjectMeta {
	out := metav1.ObjectMeta{Namespace: m.Namespace, Name: m.Name, UID: m.UID, ResourceVersion: m.ResourceVersion, Generation: m.Generation}
	for _, a := range annotations {
		if v, ok := m.Annotations[a]; ok {
			if out.Annotations == nil {
				out.Annotations = map[string]string{}
			}
			out.Annotations[a] = v
		}
	}
	return out
}
