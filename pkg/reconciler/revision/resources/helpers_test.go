package resources

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
)

// testRev is a defaulted revision as the Configuration reconciler makes it.
func testRev(opts ...func(*v1.Revision)) *v1.Revision {
	r := &v1.Revision{
		ObjectMeta: metav1.ObjectMeta{
			Name: "hello-00001", Namespace: "ns", UID: "rev-uid",
			Labels: map[string]string{
				serving.ConfigurationLabelKey:           "hello",
				serving.ConfigurationUIDLabelKey:        "cfg-uid",
				serving.ConfigurationGenerationLabelKey: "1",
				serving.ServiceLabelKey:                 "hello",
				serving.ServiceUIDLabelKey:              "svc-uid",
			},
			Annotations: map[string]string{"client.knative.dev/user-image": "img"},
		},
		Spec: v1.RevisionSpec{
			PodSpec: corev1.PodSpec{Containers: []corev1.Container{{
				Name:  "user-container",
				Image: "registry.example/hello:v1",
				Ports: []corev1.ContainerPort{{Name: "http1", ContainerPort: 8080}},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:     corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}},
					SuccessThreshold: 1,
				},
			}}},
			ContainerConcurrency: ptr.To[int64](0),
			TimeoutSeconds:       ptr.To[int64](300),
		},
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

func withAnnotations(kv ...string) func(*v1.Revision) {
	return func(r *v1.Revision) {
		for i := 0; i+1 < len(kv); i += 2 {
			r.Annotations[kv[i]] = kv[i+1]
		}
	}
}

func withCC(cc int64) func(*v1.Revision) {
	return func(r *v1.Revision) { r.Spec.ContainerConcurrency = ptr.To(cc) }
}

func wantLabels() map[string]string {
	return map[string]string{
		serving.ConfigurationLabelKey:           "hello",
		serving.ConfigurationUIDLabelKey:        "cfg-uid",
		serving.ConfigurationGenerationLabelKey: "1",
		serving.ServiceLabelKey:                 "hello",
		serving.ServiceUIDLabelKey:              "svc-uid",
		serving.RevisionLabelKey:                "hello-00001",
		serving.RevisionUID:                     "rev-uid",
	}
}

func wantOwners() []metav1.OwnerReference {
	return []metav1.OwnerReference{{
		APIVersion: "serving.knative.dev/v1", Kind: "Revision", Name: "hello-00001", UID: "rev-uid",
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	}}
}

func wantMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: name, Namespace: "ns", Labels: wantLabels(),
		Annotations:     map[string]string{"client.knative.dev/user-image": "img"},
		OwnerReferences: wantOwners(),
	}
}
