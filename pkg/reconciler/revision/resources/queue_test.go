package resources

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"knative.dev/serving/pkg/apis/autoscaling"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
)

func resourceList(kv ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return l
}

func TestWithTriggerRequest(t *testing.T) {
	memoryHPA := []any{autoscaling.MetricAnnotationKey, "memory", autoscaling.TargetAnnotationKey, "200"}
	stock := corev1.ResourceRequirements{Requests: resourceList("cpu", "25m")}
	withDefault := corev1.ResourceRequirements{Requests: resourceList("cpu", "25m", "memory", QueueMemoryRequestForHPA)}
	for _, tc := range []struct {
		name string
		rev  *v1.Revision
		cfg  func(*Config)
		in   corev1.ResourceRequirements
		want corev1.ResourceRequirements
	}{
		{"KPA: unchanged", testRev(), nil, stock, stock},
		{"HPA cpu: unchanged", hpaRev(autoscaling.MetricAnnotationKey, "cpu", autoscaling.TargetAnnotationKey, "70"), nil, stock, stock},
		{"HPA default metric (cpu): unchanged", hpaRev(), nil, stock, stock},
		{"HPA memory without target is a cpu trigger: unchanged", hpaRev(autoscaling.MetricAnnotationKey, "memory"), nil, stock, stock},
		{"HPA rps: unchanged", hpaRev(autoscaling.MetricAnnotationKey, "rps", autoscaling.TargetAnnotationKey, "10"), nil, stock, stock},
		{"HPA memory: the default request", hpaRev(memoryHPA...), nil, stock, withDefault},
		{"HPA memory, no requests at all", hpaRev(memoryHPA...), nil, corev1.ResourceRequirements{},
			corev1.ResourceRequirements{Requests: resourceList("memory", QueueMemoryRequestForHPA)}},
		{"HPA memory, the operator's request is kept", hpaRev(memoryHPA...), nil,
			corev1.ResourceRequirements{Requests: resourceList("cpu", "25m", "memory", "50Mi")},
			corev1.ResourceRequirements{Requests: resourceList("cpu", "25m", "memory", "50Mi")}},
		{"HPA memory, an explicit 0 is kept", hpaRev(memoryHPA...), nil,
			corev1.ResourceRequirements{Requests: resourceList("memory", "0")},
			corev1.ResourceRequirements{Requests: resourceList("memory", "0")}},
		{"HPA memory, a limit alone is kept (the request defaults to it)", hpaRev(memoryHPA...), nil,
			corev1.ResourceRequirements{Requests: resourceList("cpu", "25m"), Limits: resourceList("memory", "20Mi")},
			corev1.ResourceRequirements{Requests: resourceList("cpu", "25m"), Limits: resourceList("memory", "20Mi")}},
		{"HPA by config-autoscaler's pod-autoscaler-class",
			testRev(withAnnotations(autoscaling.MetricAnnotationKey, "memory", autoscaling.TargetAnnotationKey, "200")),
			func(c *Config) { c.Autoscaler.PodAutoscalerClass = autoscaling.HPA }, stock, withDefault},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			in := tc.in.DeepCopy()
			got := withTriggerRequest(tc.in, paView(tc.rev, cfg))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("resources (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(*in, tc.in); diff != "" {
				t.Errorf("the input changed (-before +after):\n%s", diff)
			}
		})
	}
}

// TestQueueResourcesInDeployment: the default reaches the Deployment of a
// memory-metric HPA revision only; the queue of every other revision keeps
// exactly what config-deployment and the annotations say, so existing
// Deployments do not roll.
func TestQueueResourcesInDeployment(t *testing.T) {
	stock := corev1.ResourceRequirements{Requests: resourceList("cpu", "25m")}
	for _, tc := range []struct {
		name string
		rev  *v1.Revision
		want corev1.ResourceRequirements
	}{
		{"KPA", testRev(), stock},
		{"HPA cpu", hpaRev(autoscaling.MetricAnnotationKey, "cpu", autoscaling.TargetAnnotationKey, "70"), stock},
		{"HPA memory without target", hpaRev(autoscaling.MetricAnnotationKey, "memory"), stock},
		{"HPA memory", hpaRev(autoscaling.MetricAnnotationKey, "memory", autoscaling.TargetAnnotationKey, "200"),
			corev1.ResourceRequirements{Requests: resourceList("cpu", "25m", "memory", QueueMemoryRequestForHPA)}},
		{"HPA memory, request by annotation", hpaRev(autoscaling.MetricAnnotationKey, "memory", autoscaling.TargetAnnotationKey, "200",
			serving.QueueSidecarMemoryResourceRequestAnnotationKey, "48Mi"),
			corev1.ResourceRequirements{Requests: resourceList("cpu", "25m", "memory", "48Mi")}},
		{"HPA memory, limit by annotation", hpaRev(autoscaling.MetricAnnotationKey, "memory", autoscaling.TargetAnnotationKey, "200",
			serving.QueueSidecarMemoryResourceLimitAnnotationKey, "24Mi"),
			corev1.ResourceRequirements{Requests: resourceList("cpu", "25m"), Limits: resourceList("memory", "24Mi")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dep, err := MakeDeployment(tc.rev, DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			containers := dep.Spec.Template.Spec.Containers
			q := containers[len(containers)-1]
			if q.Name != QueueContainerName {
				t.Fatalf("last container = %q, want the queue", q.Name)
			}
			if diff := cmp.Diff(tc.want, q.Resources); diff != "" {
				t.Errorf("queue resources (-want +got):\n%s", diff)
			}
		})
	}
}
