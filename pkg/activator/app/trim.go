package app

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/serving/pkg/apis/serving"
)

// The informer cache keeps, of each object, only what the activator reads
// (listers.go and the informer handlers in Run): every activator replica
// caches the revision pods and private EndpointSlices of the whole
// cluster. Other objects (a DeletedFinalStateUnknown, say) pass unchanged.

// trimEndpointSlice keeps the addresses, their readiness and the Service
// they belong to (sliceService). The Service is kept as an owner reference
// rather than as its label: a one-entry map takes a few hundred bytes, and
// this is the one object kept for every revision at zero.
func trimEndpointSlice(in any) (any, error) {
	s, ok := in.(*discoveryv1.EndpointSlice)
	if !ok {
		return in, nil
	}
	meta := identity(s.ObjectMeta)
	if svc := sliceService(s); svc != "" {
		meta.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: svc}}
	}
	out := &discoveryv1.EndpointSlice{ObjectMeta: meta, AddressType: s.AddressType}
	if len(s.Endpoints) > 0 {
		out.Endpoints = make([]discoveryv1.Endpoint, len(s.Endpoints))
		for i, e := range s.Endpoints {
			out.Endpoints[i] = discoveryv1.Endpoint{Addresses: e.Addresses, Conditions: discoveryv1.EndpointConditions{Ready: e.Conditions.Ready}}
		}
	}
	return out, nil
}

// trimPod keeps the revision label (the index), whether the pod is going,
// its IP, phase and Ready condition.
func trimPod(in any) (any, error) {
	p, ok := in.(*corev1.Pod)
	if !ok {
		return in, nil
	}
	meta := identity(p.ObjectMeta)
	meta.DeletionTimestamp = p.DeletionTimestamp
	if rev, ok := p.Labels[serving.RevisionLabelKey]; ok {
		meta.Labels = map[string]string{serving.RevisionLabelKey: rev}
	}
	out := &corev1.Pod{ObjectMeta: meta, Status: corev1.PodStatus{Phase: p.Status.Phase, PodIP: p.Status.PodIP}}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			out.Status.Conditions = []corev1.PodCondition{{Type: c.Type, Status: c.Status}}
			break
		}
	}
	return out, nil
}

// identity is what names an object, and what the informer compares.
func identity(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: m.Namespace, Name: m.Name, UID: m.UID, ResourceVersion: m.ResourceVersion, Generation: m.Generation}
}

// sliceService is the name of the Service an EndpointSlice belongs to: its
// kubernetes.io/service-name label, or once trimmed its owner reference.
func sliceService(o metav1.Object) string {
	if svc := o.GetLabels()[discoveryv1.LabelServiceName]; svc != "" {
		return svc
	}
	for _, ref := range o.GetOwnerReferences() {
		if ref.Kind == "Service" && ref.APIVersion == "v1" {
			return ref.Name
		}
	}
	return ""
}
