package app

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/serving/pkg/apis/serving"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

// The informer cache keeps, of each object, only what the activator reads
// (listers.go, events.go and the informer handlers in Run): every activator
// replica caches every revision and EndpointSlice of the cluster, and a
// whole Revision with its status takes kilobytes. Other objects (a
// DeletedFinalStateUnknown, say) pass unchanged.

// trimRevision keeps a Revision's identity (events name it) and the two
// settings the balancer reads.
func trimRevision(in any) (any, error) {
	r, ok := in.(*servingv1.Revision)
	if !ok {
		return in, nil
	}
	return &servingv1.Revision{
		ObjectMeta: identity(r.ObjectMeta),
		Spec: servingv1.RevisionSpec{
			TimeoutSeconds:       r.Spec.TimeoutSeconds,
			ContainerConcurrency: r.Spec.ContainerConcurrency,
		},
	}, nil
}

// trimEndpointSlice keeps the addresses, their readiness and the Service
// they belong to (the index and the handlers read its label).
func trimEndpointSlice(in any) (any, error) {
	s, ok := in.(*discoveryv1.EndpointSlice)
	if !ok {
		return in, nil
	}
	meta := identity(s.ObjectMeta)
	if svc, ok := s.Labels[discoveryv1.LabelServiceName]; ok {
		meta.Labels = map[string]string{discoveryv1.LabelServiceName: svc}
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
