package resources

import (
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/kmeta"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"

	"csclr.dev/csclr/pkg/names"
	revresources "csclr.dev/csclr/pkg/reconciler/revision/resources"
)

// objectMeta is the metadata of every object a Route owns: the Route's
// labels (plus serving.knative.dev/route) and annotations, so that labels
// and annotations propagated from the Service reach the apex Service.
//
// TagLabelKey is never propagated: it marks the objects of one tag, which
// the reconciler deletes once the tag is gone, and the apex objects must not
// look like those.
func objectMeta(route *v1.Route, name string) metav1.ObjectMeta {
	anns := kmeta.FilterMap(route.Annotations, func(k string) bool { return k == corev1.LastAppliedConfigAnnotation })
	if len(anns) == 0 {
		anns = nil
	}
	labels := kmeta.FilterMap(route.Labels, func(k string) bool { return k == TagLabelKey })
	return metav1.ObjectMeta{
		Name:            name,
		Namespace:       route.Namespace,
		Labels:          kmeta.UnionMaps(labels, map[string]string{serving.RouteLabelKey: route.Name}),
		Annotations:     anns,
		OwnerReferences: []metav1.OwnerReference{*kmeta.NewControllerRef(route)},
	}
}

// MakeService builds the Route's apex Service: a ClusterIP Service without
// a selector (its endpoints are the activator's, see MakeEndpointSlice), so
// that an unmeshed caller of {route}.{ns}.svc gets the same split as an
// external one, while Linkerd applies the HTTPRoute attached to it for meshed
// callers. Port 80 carries HTTP/1.1, port 81 h2c, both to the activator.
//
// It is labelled revresources.ManagedByLabelKey, like a revision's Services:
// the controller caches only the Services that carry it.
func MakeService(route *v1.Route) *corev1.Service {
	return service(objectMeta(route, names.RouteService(route.Name)))
}

// service is the apex Service's shape with meta: a tag's Service is the
// same Service under another name (MakeTagService).
func service(meta metav1.ObjectMeta) *corev1.Service {
	meta.Labels[revresources.ManagedByLabelKey] = revresources.ManagedByValue
	return &corev1.Service{
		ObjectMeta: meta,
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP,
			Ports: []corev1.ServicePort{{
				Name:       revresources.HTTPPortName,
				Protocol:   corev1.ProtocolTCP,
				Port:       revresources.HTTPServicePort,
				TargetPort: intstr.FromInt32(revresources.ActivatorPort),
			}, {
				Name:        revresources.H2CPortName,
				Protocol:    corev1.ProtocolTCP,
				AppProtocol: ptr.To(revresources.H2CAppProtocol),
				Port:        revresources.H2CServicePort,
				TargetPort:  intstr.FromInt32(revresources.ActivatorPort),
			}},
		},
	}
}

// MakeEndpointSlice gives the apex Service the activator's ready IPv4
// endpoints (a selectorless Service in the Route's namespace cannot select
// pods in the system namespace). Endpoints are sorted so equal inputs give
// equal slices.
func MakeEndpointSlice(route *v1.Route, activator []discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return endpointSlice(objectMeta(route, names.RouteEndpointSlice(route.Name)), names.RouteService(route.Name), activator)
}

// endpointSlice is the apex EndpointSlice's shape with meta, for the
// Service named service.
func endpointSlice(meta metav1.ObjectMeta, service string, activator []discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	meta.Labels[discoveryv1.LabelServiceName] = service
	meta.Labels[discoveryv1.LabelManagedBy] = revresources.ManagedByValue
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  meta,
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   readyIPv4(activator),
		Ports: []discoveryv1.EndpointPort{
			{Name: ptr.To(revresources.HTTPPortName), Port: ptr.To[int32](revresources.ActivatorPort), Protocol: ptr.To(corev1.ProtocolTCP)},
			{Name: ptr.To(revresources.H2CPortName), Port: ptr.To[int32](revresources.ActivatorPort), Protocol: ptr.To(corev1.ProtocolTCP), AppProtocol: ptr.To(revresources.H2CAppProtocol)},
		},
	}
}

func readyIPv4(in []discoveryv1.Endpoint) []discoveryv1.Endpoint {
	var out []discoveryv1.Endpoint
	for _, ep := range in {
		if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
			continue
		}
		var addrs []string
		for _, a := range ep.Addresses {
			if ip, err := netip.ParseAddr(a); err == nil && ip.Is4() {
				addrs = append(addrs, a)
			}
		}
		if len(addrs) == 0 {
			continue
		}
		out = append(out, discoveryv1.Endpoint{
			Addresses:  addrs,
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			NodeName:   ep.NodeName,
			Zone:       ep.Zone,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addresses[0] < out[j].Addresses[0] })
	return out
}
