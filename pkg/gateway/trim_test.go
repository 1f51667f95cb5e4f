package gateway

import (
	"reflect"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestTrim(t *testing.T) {
	meta := func(annotations map[string]string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "ns", Name: "hello", UID: "u", ResourceVersion: "3", Generation: 1,
			Labels: map[string]string{"serving.knative.dev/route": "hello"}, Annotations: annotations,
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m"}}, OwnerReferences: []metav1.OwnerReference{{Name: "hello"}}}
	}
	kept := func(annotations map[string]string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "ns", Name: "hello", UID: "u", ResourceVersion: "3", Generation: 1, Annotations: annotations}
	}
	// An Ingress keeps the route label too: it tells a Route's own Ingress
	// of another class.
	keptIngress := func(annotations map[string]string) metav1.ObjectMeta {
		m := kept(annotations)
		m.Labels = map[string]string{"serving.knative.dev/route": "hello"}
		return m
	}
	ingSpec := networkingv1.IngressSpec{IngressClassName: ptr.To("csclr"), Rules: []networkingv1.IngressRule{{Host: "hello.ns.example.com"}}}
	hrSpec := gatewayv1.HTTPRouteSpec{
		CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "hello"}}},
		Rules:           []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "hello-00001"}}}}}},
	}
	hrKept := hrSpec
	hrKept.ParentRefs = nil
	tags := `{"next":[{"revision":"hello-00002","weight":100}]}`

	tests := []struct {
		name     string
		trim     func(any) (any, error)
		in, want any
	}{{
		name: "Ingress",
		trim: TrimIngress,
		in: &networkingv1.Ingress{ObjectMeta: meta(map[string]string{legacyIngressClassAnnotation: "csclr", "other": "x"}), Spec: ingSpec,
			Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{Ingress: []networkingv1.IngressLoadBalancerIngress{{IP: "1.2.3.4"}}}}},
		want: &networkingv1.Ingress{ObjectMeta: keptIngress(map[string]string{legacyIngressClassAnnotation: "csclr"}), Spec: ingSpec},
	}, {
		name: "HTTPRoute",
		trim: TrimHTTPRoute,
		in: &gatewayv1.HTTPRoute{ObjectMeta: meta(map[string]string{TagsAnnotation: tags, ClusterIPsAnnotation: "10.96.0.7", "other": "x"}), Spec: hrSpec,
			Status: gatewayv1.HTTPRouteStatus{RouteStatus: gatewayv1.RouteStatus{Parents: []gatewayv1.RouteParentStatus{{ControllerName: "c"}}}}},
		want: &gatewayv1.HTTPRoute{ObjectMeta: kept(map[string]string{TagsAnnotation: tags, ClusterIPsAnnotation: "10.96.0.7"}), Spec: hrKept},
	}, {
		name: "no annotations", trim: TrimIngress,
		in:   &networkingv1.Ingress{ObjectMeta: meta(nil), Spec: ingSpec},
		want: &networkingv1.Ingress{ObjectMeta: keptIngress(nil), Spec: ingSpec},
	}, {
		name: "an Ingress's visibility label is kept", trim: TrimIngress,
		in: func() *networkingv1.Ingress {
			ing := &networkingv1.Ingress{ObjectMeta: meta(nil), Spec: ingSpec}
			ing.Labels["networking.knative.dev/visibility"] = "cluster-local"
			return ing
		}(),
		want: func() *networkingv1.Ingress {
			ing := &networkingv1.Ingress{ObjectMeta: keptIngress(nil), Spec: ingSpec}
			ing.Labels["networking.knative.dev/visibility"] = "cluster-local"
			return ing
		}(),
	}, {
		name: "another type passes", trim: TrimHTTPRoute, in: "tombstone", want: "tombstone",
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
