package resources

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"
	v1 "knative.dev/serving/pkg/apis/serving/v1"

	"csclr.dev/csclr/pkg/names"
	"csclr.dev/csclr/pkg/queue"
)

// Mode says where a revision's public Service sends traffic.
type Mode string

const (
	// ModeServe sends traffic straight to the revision's ready pods.
	ModeServe Mode = "serve"
	// ModeProxy sends traffic to the activator, which holds and balances it.
	ModeProxy Mode = "proxy"
)

// Labels and annotations on the public EndpointSlice.
const (
	// ManagedByValue is the value of the EndpointSlices' standard
	// endpointslice.kubernetes.io/managed-by label, and of
	// ManagedByLabelKey on Services.
	ManagedByValue = names.ManagedBy
	// ModeLabelKey carries the Mode, so that activator changes only wake the
	// revisions that are in proxy mode.
	ModeLabelKey = "csclr.dev/endpoints-mode"
	// ShortSinceAnnotationKey keeps the hysteresis state across reconciles.
	ShortSinceAnnotationKey = "csclr.dev/short-of-capacity-since"
)

// ActivatorPort is the activator's proxy port for revision traffic.
const ActivatorPort = 8012

// MakeEndpointSlice builds the EndpointSlice of a revision's public Service:
// the ready pods on the queue port in ModeServe, the activator's ready
// endpoints in ModeProxy. Only IPv4 addresses are kept (one slice has one
// address type). Endpoints are sorted so that equal inputs give equal slices.
func MakeEndpointSlice(rev *v1.Revision, state ModeState, podEndpoints, activatorEndpoints []discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	meta := makeObjectMeta(rev, names.PublicEndpointSlice(rev.Name))
	meta.Labels[discoveryv1.LabelServiceName] = names.PublicService(rev.Name)
	meta.Labels[discoveryv1.LabelManagedBy] = ManagedByValue
	meta.Labels[ModeLabelKey] = string(state.Mode)
	if state.Mode == ModeServe && !state.ShortSince.IsZero() {
		if meta.Annotations == nil {
			meta.Annotations = map[string]string{}
		}
		meta.Annotations[ShortSinceAnnotationKey] = state.ShortSince.UTC().Format(time.RFC3339)
	}
	ports := []discoveryv1.EndpointPort{
		{Name: ptr.To(HTTPPortName), Port: ptr.To[int32](queue.ServingPort), Protocol: ptr.To(corev1.ProtocolTCP)},
		{Name: ptr.To(H2CPortName), Port: ptr.To[int32](queue.ServingPort), Protocol: ptr.To(corev1.ProtocolTCP), AppProtocol: ptr.To(H2CAppProtocol)},
		{Name: ptr.To(MetricsSvcPort), Port: ptr.To[int32](queue.MetricsPort), Protocol: ptr.To(corev1.ProtocolTCP)},
	}
	endpoints := podEndpoints
	if state.Mode == ModeProxy {
		endpoints = activatorEndpoints
		// The activator exposes no revision metrics: scrapers use the pods.
		ports = []discoveryv1.EndpointPort{
			{Name: ptr.To(HTTPPortName), Port: ptr.To[int32](ActivatorPort), Protocol: ptr.To(corev1.ProtocolTCP)},
			{Name: ptr.To(H2CPortName), Port: ptr.To[int32](ActivatorPort), Protocol: ptr.To(corev1.ProtocolTCP), AppProtocol: ptr.To(H2CAppProtocol)},
		}
	}
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  meta,
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   normalizeEndpoints(endpoints),
		Ports:       ports,
	}
}

// normalizeEndpoints keeps IPv4 addresses, marks the endpoints ready (callers
// pass only ready ones) and sorts them.
func normalizeEndpoints(in []discoveryv1.Endpoint) []discoveryv1.Endpoint {
	out := make([]discoveryv1.Endpoint, 0, len(in))
	for _, e := range in {
		var v4 []string
		for _, a := range e.Addresses {
			if ip, err := netip.ParseAddr(a); err == nil && ip.Is4() {
				v4 = append(v4, a)
			}
		}
		if len(v4) == 0 {
			continue
		}
		e = *e.DeepCopy()
		e.Addresses = v4
		e.Conditions = discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b discoveryv1.Endpoint) int { return cmp.Compare(a.Addresses[0], b.Addresses[0]) })
	return out
}

// ModeStateOf reads the mode and hysteresis state back from an existing
// slice; a missing slice starts in proxy mode.
func ModeStateOf(slice *discoveryv1.EndpointSlice) ModeState {
	if slice == nil || Mode(slice.Labels[ModeLabelKey]) != ModeServe {
		return ModeState{Mode: ModeProxy}
	}
	st := ModeState{Mode: ModeServe}
	if t, err := time.Parse(time.RFC3339, slice.Annotations[ShortSinceAnnotationKey]); err == nil {
		st.ShortSince = t
	}
	return st
}
