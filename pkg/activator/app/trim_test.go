package app

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"knative.dev/serving/pkg/apis/serving"
)

func TestTrim(t *testing.T) {
	now := metav1.Now()
	meta := metav1.ObjectMeta{Namespace: "ns", Name: "n", UID: "u", ResourceVersion: "7", Generation: 2,
		Labels:          map[string]string{serving.RevisionLabelKey: "r", discoveryv1.LabelServiceName: "s", "big": "label"},
		Annotations:     map[string]string{"a": "b"},
		ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "m"}},
		OwnerReferences: []metav1.OwnerReference{{Name: "o"}},
	}
	kept := metav1.ObjectMeta{Namespace: "ns", Name: "n", UID: "u", ResourceVersion: "7", Generation: 2}
	withLabel := func(k, v string) metav1.ObjectMeta { m := kept; m.Labels = map[string]string{k: v}; return m }
	ownedBy := func(svc string) metav1.ObjectMeta {
		m := kept
		m.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: svc}}
		return m
	}
	deleting := withLabel(serving.RevisionLabelKey, "r")
	deleting.DeletionTimestamp = &now
	podMeta := meta
	podMeta.DeletionTimestamp = &now
	tombstone := cache.DeletedFinalStateUnknown{Key: "ns/n"}

	tests := []struct {
		name     string
		trim     func(any) (any, error)
		in, want any
	}{{
		name: "endpoint slice",
		trim: trimEndpointSlice,
		in: &discoveryv1.EndpointSlice{ObjectMeta: meta, AddressType: discoveryv1.AddressTypeIPv4,
			Ports: []discoveryv1.EndpointPort{{Port: ptr.To[int32](80)}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}, NodeName: ptr.To("node"),
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true)},
				TargetRef:  &corev1.ObjectReference{Name: "pod"}}}},
		want: &discoveryv1.EndpointSlice{ObjectMeta: ownedBy("s"), AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}}},
	}, {
		name: "pod",
		trim: trimPod,
		in: &corev1.Pod{ObjectMeta: podMeta, Spec: corev1.PodSpec{Containers: []corev1.Container{{Image: "app"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1", HostIP: "10.1.1.1", Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}, {Type: corev1.PodReady, Status: corev1.ConditionTrue, Reason: "r"}}}},
		want: &corev1.Pod{ObjectMeta: deleting, Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1",
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}},
	}, {
		name: "a tombstone passes", trim: trimPod, in: tombstone, want: tombstone,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.trim(tt.in)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, %v\nwant %#v", got, err, tt.want)
			}
		})
	}
}

func TestSliceService(t *testing.T) {
	for _, tt := range []struct {
		name string
		meta metav1.ObjectMeta
		want string
	}{
		{"label", metav1.ObjectMeta{Labels: map[string]string{discoveryv1.LabelServiceName: "a"}}, "a"},
		{"trimmed", metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: "b"}}}, "b"},
		{"another owner", metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "c"}}}, ""},
		{"neither", metav1.ObjectMeta{}, ""},
	} {
		if got := sliceService(&tt.meta); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	// Trimming keeps what sliceService reads.
	in := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "x", Labels: map[string]string{discoveryv1.LabelServiceName: "svc", "other": "y"}}}
	out, _ := trimEndpointSlice(in)
	if got := sliceService(out.(*discoveryv1.EndpointSlice)); got != "svc" {
		t.Errorf("trimmed slice's Service = %q, want svc", got)
	}
}
