package resources

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	v1 "knative.dev/serving/pkg/apis/serving/v1"

	"csclr.dev/csclr/pkg/names"
	"csclr.dev/csclr/pkg/queue"
)

// Service port names; the public Service's EndpointSlice repeats them, since
// a selectorless Service's ports meet their endpoints by name.
const (
	HTTPPortName    = "http"
	H2CPortName     = "http2"
	MetricsSvcPort  = "http-metrics"
	HTTPServicePort = 80
	H2CServicePort  = 81
	// H2CAppProtocol tells meshes and gateways to speak h2c to the port.
	H2CAppProtocol = "kubernetes.io/h2c"
)

// MakePrivateService builds "<rev>-private", which selects the revision's
// pods: the activator and the scaler find pods through it.
func MakePrivateService(rev *v1.Revision) *corev1.Service {
	svc := makeService(rev, names.PrivateService(rev.Name))
	svc.Spec.Selector = makeSelector(rev).MatchLabels
	return svc
}

// MakePublicService builds "<rev>", selectorless: the controller fills its
// EndpointSlice with pods or activators (MakeEndpointSlice), so routing to
// the revision never changes with its scale.
func MakePublicService(rev *v1.Revision) *corev1.Service {
	return makeService(rev, names.PublicService(rev.Name))
}

// ManagedByLabelKey, set to ManagedByValue, is on every Service csclr
// creates: a revision's two and a Route's apex Service have no other label in
// common, and the controller caches only the Services that carry it. The
// other kinds it creates are told apart by labels they already had (see
// controller.CacheOptions), so it is on Services only.
const ManagedByLabelKey = "csclr.dev/managed-by"

func makeService(rev *v1.Revision, name string) *corev1.Service {
	meta := makeObjectMeta(rev, name)
	meta.Labels[ManagedByLabelKey] = ManagedByValue
	return &corev1.Service{
		ObjectMeta: meta,
		Spec: corev1.ServiceSpec{
			Type:  corev1.ServiceTypeClusterIP,
			Ports: servicePorts(),
		},
	}
}

func servicePorts() []corev1.ServicePort {
	return []corev1.ServicePort{{
		Name:       HTTPPortName,
		Protocol:   corev1.ProtocolTCP,
		Port:       HTTPServicePort,
		TargetPort: intstr.FromInt32(queue.ServingPort),
	}, {
		Name:        H2CPortName,
		Protocol:    corev1.ProtocolTCP,
		AppProtocol: ptr.To(H2CAppProtocol),
		Port:        H2CServicePort,
		TargetPort:  intstr.FromInt32(queue.ServingPort),
	}, {
		Name:       MetricsSvcPort,
		Protocol:   corev1.ProtocolTCP,
		Port:       queue.MetricsPort,
		TargetPort: intstr.FromInt32(queue.MetricsPort),
	}}
}
