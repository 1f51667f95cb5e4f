package resources

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"knative.dev/serving/pkg/apis/serving"
)

func wantPorts() []corev1.ServicePort {
	return []corev1.ServicePort{
		{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8012)},
		{Name: "http2", Protocol: corev1.ProtocolTCP, AppProtocol: ptr.To("kubernetes.io/h2c"), Port: 81, TargetPort: intstr.FromInt32(8012)},
		{Name: "http-metrics", Protocol: corev1.ProtocolTCP, Port: 9090, TargetPort: intstr.FromInt32(9090)},
	}
}

func TestMakeServices(t *testing.T) {
	wantMeta := func(name string) metav1.ObjectMeta {
		m := wantMeta(name)
		m.Labels[ManagedByLabelKey] = ManagedByValue
		return m
	}
	private := &corev1.Service{
		ObjectMeta: wantMeta("hello-00001-private"),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Ports:    wantPorts(),
			Selector: map[string]string{serving.RevisionUID: "rev-uid"},
		},
	}
	if diff := cmp.Diff(private, MakePrivateService(testRev())); diff != "" {
		t.Errorf("MakePrivateService (-want +got):\n%s", diff)
	}
	public := &corev1.Service{
		ObjectMeta: wantMeta("hello-00001"),
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Ports: wantPorts()},
	}
	if diff := cmp.Diff(public, MakePublicService(testRev())); diff != "" {
		t.Errorf("MakePublicService (-want +got):\n%s", diff)
	}
}

func TestMakeEndpointSlice(t *testing.T) {
	ready := discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)}
	pods := []discoveryv1.Endpoint{
		{Addresses: []string{"10.0.0.9"}, NodeName: ptr.To("n1"), TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: "p9"}},
		{Addresses: []string{"fd00::1"}}, // dropped: the slice is IPv4
		{Addresses: []string{"10.0.0.2"}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: "p2"}},
	}
	activators := []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.1"}}}
	meta := func(mode string, ann map[string]string) func() discoveryv1.EndpointSlice {
		return func() discoveryv1.EndpointSlice {
			m := wantMeta("hello-00001")
			m.Labels["kubernetes.io/service-name"] = "hello-00001"
			m.Labels["endpointslice.kubernetes.io/managed-by"] = "controller.csclr.dev"
			m.Labels["csclr.dev/endpoints-mode"] = mode
			for k, v := range ann {
				m.Annotations[k] = v
			}
			return discoveryv1.EndpointSlice{ObjectMeta: m, AddressType: discoveryv1.AddressTypeIPv4}
		}
	}
	tcp := ptr.To(corev1.ProtocolTCP)
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		state ModeState
		want  func() *discoveryv1.EndpointSlice
	}{{
		name:  "serve: ready pods on the queue port, sorted; the hysteresis clock is kept",
		state: ModeState{Mode: ModeServe, ShortSince: since},
		want: func() *discoveryv1.EndpointSlice {
			s := meta("serve", map[string]string{"csclr.dev/short-of-capacity-since": "2026-01-02T03:04:05Z"})()
			s.Endpoints = []discoveryv1.Endpoint{
				{Addresses: []string{"10.0.0.2"}, Conditions: ready, TargetRef: pods[2].TargetRef},
				{Addresses: []string{"10.0.0.9"}, Conditions: ready, NodeName: ptr.To("n1"), TargetRef: pods[0].TargetRef},
			}
			s.Ports = []discoveryv1.EndpointPort{
				{Name: ptr.To("http"), Port: ptr.To[int32](8012), Protocol: tcp},
				{Name: ptr.To("http2"), Port: ptr.To[int32](8012), Protocol: tcp, AppProtocol: ptr.To("kubernetes.io/h2c")},
				{Name: ptr.To("http-metrics"), Port: ptr.To[int32](9090), Protocol: tcp},
			}
			return &s
		},
	}, {
		name:  "proxy: the activators on their proxy port",
		state: ModeState{Mode: ModeProxy},
		want: func() *discoveryv1.EndpointSlice {
			s := meta("proxy", nil)()
			s.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.1"}, Conditions: ready}}
			s.Ports = []discoveryv1.EndpointPort{
				{Name: ptr.To("http"), Port: ptr.To[int32](8012), Protocol: tcp},
				{Name: ptr.To("http2"), Port: ptr.To[int32](8012), Protocol: tcp, AppProtocol: ptr.To("kubernetes.io/h2c")},
			}
			return &s
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := MakeEndpointSlice(testRev(), tc.state, pods, activators)
			if diff := cmp.Diff(tc.want(), got); diff != "" {
				t.Errorf("MakeEndpointSlice (-want +got):\n%s", diff)
			}
			if back := ModeStateOf(got); !back.ShortSince.Equal(tc.state.ShortSince) || back.Mode != tc.state.Mode {
				t.Errorf("ModeStateOf(MakeEndpointSlice(%v)) = %v", tc.state, back)
			}
		})
	}
	if got := ModeStateOf(nil); got.Mode != ModeProxy {
		t.Errorf("ModeStateOf(nil) = %v, want proxy", got)
	}
}
