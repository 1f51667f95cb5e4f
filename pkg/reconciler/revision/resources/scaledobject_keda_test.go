package resources

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	"knative.dev/serving/pkg/apis/autoscaling"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
)

// kedaProblem is why KEDA v2.21 would refuse a ScaledObject, or could not
// build a valid HPA from it; nil if it would not.
//
// KEDA's admission webhook runs validateWorkload
// (apis/keda/v1alpha1/scaledobject_webhook.go). Of its checks, those that
// need no cluster are exported and called here; verifyCPUMemoryScalers
// needs one (the Deployment, the LimitRanges), so its scale-to-zero rule is
// restated here and its requests rule is missingRequests below
// (keda_webhook_test.go runs the whole webhook against a fake client).
func kedaProblem(so *kedav1alpha1.ScaledObject) error {
	// verifyReplicaCount, verifyFallback, verifyTriggers.
	if err := kedav1alpha1.CheckReplicaCountBoundsAreValid(so); err != nil {
		return err
	}
	if err := kedav1alpha1.CheckFallbackValid(so); err != nil {
		return err
	}
	if err := kedav1alpha1.ValidateTriggers(so.Spec.Triggers); err != nil {
		return err
	}
	// The CRD's schema (config/crd/bases/keda.sh_scaledobjects.yaml):
	// minReplicaCount >= 0, maxReplicaCount >= 1, min <= max (a CEL rule,
	// with max defaulting to 100), every trigger typed.
	minR, maxR := int32(0), int32(100)
	if so.Spec.MinReplicaCount != nil {
		minR = *so.Spec.MinReplicaCount
	}
	if so.Spec.MaxReplicaCount != nil {
		maxR = *so.Spec.MaxReplicaCount
	}
	if minR < 0 || maxR < 1 || minR > maxR {
		return fmt.Errorf("schema: minReplicaCount %d, maxReplicaCount %d", minR, maxR)
	}
	onlyResources := true
	for _, tr := range so.Spec.Triggers {
		if tr.Type == "" {
			return errors.New("schema: a trigger without a type")
		}
		if tr.Type != "cpu" && tr.Type != "memory" {
			onlyResources = false
			continue
		}
		if err := resourceTriggerProblem(tr); err != nil {
			return err
		}
	}
	// verifyCPUMemoryScalers, scaledobject_webhook.go:560-575.
	if onlyResources && minR == 0 {
		return errors.New("webhook: only cpu/memory triggers and minReplicaCount 0 (scale to zero doesn't work in this case)")
	}
	return nil
}

// resourceTriggerProblem restates KEDA's parsing of a cpu/memory trigger
// (pkg/scalers/cpu_memory_scaler.go parseResourceMetadata: Utilization is
// an int32, AverageValue a quantity read with MustParse, so a bad one
// panics the operator) and the apiserver's validation of the HPA metric it
// becomes (both must be positive).
func resourceTriggerProblem(tr kedav1alpha1.ScaleTriggers) error {
	v, ok := tr.Metadata["value"]
	if !ok {
		return fmt.Errorf("%s trigger: no value", tr.Type)
	}
	switch tr.MetricType {
	case autoscalingv2.UtilizationMetricType:
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n <= 0 {
			return fmt.Errorf("%s trigger: utilization %q is not a positive int32", tr.Type, v)
		}
	case autoscalingv2.AverageValueMetricType:
		q, err := resource.ParseQuantity(v)
		if err != nil || q.Sign() <= 0 {
			return fmt.Errorf("%s trigger: average value %q is not a positive quantity", tr.Type, v)
		}
	default:
		return fmt.Errorf("%s trigger: metricType %q is neither Utilization nor AverageValue", tr.Type, tr.MetricType)
	}
	return nil
}

// missingRequests is verifyCPUMemoryScalers' other rule
// (scaledobject_webhook.go:536-556) for a namespace without a LimitRange:
// for each cpu/memory trigger, every container of the workload must
// request the resource unless the pod does. It returns the containers
// that do not.
func missingRequests(so *kedav1alpha1.ScaledObject, dep *appsv1.Deployment) []string {
	var missing []string
	pod := dep.Spec.Template.Spec
	for _, tr := range so.Spec.Triggers {
		if tr.Type != "cpu" && tr.Type != "memory" {
			continue
		}
		name := corev1.ResourceName(tr.Type)
		if pod.Resources != nil && hasRequest(*pod.Resources, name) {
			continue
		}
		for _, c := range pod.Containers {
			if !hasRequest(c.Resources, name) && !slices.Contains(missing, c.Name) {
				missing = append(missing, c.Name)
			}
		}
	}
	return missing
}

func hasRequest(rr corev1.ResourceRequirements, name corev1.ResourceName) bool {
	_, req := rr.Requests[name]
	_, lim := rr.Limits[name] // the apiserver defaults a missing request to the limit
	return req || lim
}

func TestScaledObjectsAreValidForKEDA(t *testing.T) {
	reserve := func(r *v1.Revision) { r.Labels[serving.RoutingStateLabelKey] = "reserve" }
	for _, tc := range []struct {
		name string
		rev  *v1.Revision
		cfg  func(*Config)
	}{
		{"KPA defaults", testRev(), nil},
		{"KPA min and max", testRev(withAnnotations(autoscaling.MinScaleAnnotationKey, "2", autoscaling.MaxScaleAnnotationKey, "7")), nil},
		{"KPA activation-scale", testRev(withAnnotations(autoscaling.ActivationScaleKey, "3")), nil},
		{"KPA without scale to zero", testRev(), func(c *Config) { c.Autoscaler.EnableScaleToZero = false }},
		{"HPA cpu, min-scale unset", hpaRev(autoscaling.MetricAnnotationKey, "cpu", autoscaling.TargetAnnotationKey, "80"), nil},
		{"HPA cpu, min-scale 0", hpaRev(autoscaling.MinScaleAnnotationKey, "0"), nil},
		{"HPA cpu, min-scale 3", hpaRev(autoscaling.MinScaleAnnotationKey, "3", autoscaling.MaxScaleAnnotationKey, "3"), nil},
		{"HPA cpu, max-scale 1", hpaRev(autoscaling.MaxScaleAnnotationKey, "1"), nil},
		{"HPA cpu, tiny target", hpaRev(autoscaling.TargetAnnotationKey, "0.01"), nil},
		{"HPA cpu, huge target", hpaRev(autoscaling.TargetAnnotationKey, "1e12"), nil},
		{"HPA cpu, unreachable", hpaRev(autoscaling.MinScaleAnnotationKey, "2", reserve), nil},
		{"HPA cpu, activation-scale", hpaRev(autoscaling.ActivationScaleKey, "3"), nil},
		{"HPA cpu, window", hpaRev(autoscaling.WindowAnnotationKey, "30s"), nil},
		{"HPA memory", hpaRev(autoscaling.MetricAnnotationKey, "memory", autoscaling.TargetAnnotationKey, "300"), nil},
		{"HPA memory, tiny target", hpaRev(autoscaling.MetricAnnotationKey, "memory", autoscaling.TargetAnnotationKey, "0.01"), nil},
		{"HPA memory, huge target", hpaRev(autoscaling.MetricAnnotationKey, "memory", autoscaling.TargetAnnotationKey, "1e300"), nil},
		{"HPA memory, no target", hpaRev(autoscaling.MetricAnnotationKey, "memory"), nil},
		{"HPA on rps", hpaRev(autoscaling.MetricAnnotationKey, "rps"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			so, err := MakeScaledObject(tc.rev, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := kedaProblem(so); err != nil {
				t.Errorf("KEDA would refuse it: %v (minReplicaCount %d, triggers %+v)", err, *so.Spec.MinReplicaCount, so.Spec.Triggers)
			}
		})
	}

	// The checks themselves catch what they are for.
	for name, so := range map[string]*kedav1alpha1.ScaledObject{
		"cpu only at zero": {Spec: kedav1alpha1.ScaledObjectSpec{MinReplicaCount: new(int32),
			Triggers: []kedav1alpha1.ScaleTriggers{{Type: "cpu", MetricType: autoscalingv2.UtilizationMetricType, Metadata: map[string]string{"value": "80"}}}}},
		"memory as Utilization with a quantity": {Spec: kedav1alpha1.ScaledObjectSpec{MinReplicaCount: ptr.To[int32](1),
			Triggers: []kedav1alpha1.ScaleTriggers{{Type: "memory", MetricType: autoscalingv2.UtilizationMetricType, Metadata: map[string]string{"value": "100Mi"}}}}},
		"zero average value": {Spec: kedav1alpha1.ScaledObjectSpec{MinReplicaCount: ptr.To[int32](1),
			Triggers: []kedav1alpha1.ScaleTriggers{{Type: "memory", MetricType: autoscalingv2.AverageValueMetricType, Metadata: map[string]string{"value": "0"}}}}},
		"min above max": {Spec: kedav1alpha1.ScaledObjectSpec{MinReplicaCount: ptr.To[int32](3), MaxReplicaCount: ptr.To[int32](2),
			Triggers: []kedav1alpha1.ScaleTriggers{{Type: TriggerType}}}},
		"idle not below min": {Spec: kedav1alpha1.ScaledObjectSpec{MinReplicaCount: ptr.To[int32](1), IdleReplicaCount: ptr.To[int32](1),
			Triggers: []kedav1alpha1.ScaleTriggers{{Type: TriggerType}}}},
	} {
		if kedaProblem(so) == nil {
			t.Errorf("kedaProblem(%s) = nil, want an error", name)
		}
	}
}

// TestResourceTriggersNeedRequests: KEDA refuses a cpu/memory trigger unless
// every container (the queue sidecar too) requests the resource or a
// LimitRange gives a default. The queue requests 25m cpu by default
// (config-deployment, as in Knative) and, for a memory trigger only,
// QueueMemoryRequestForHPA unless the operator set its memory.
func TestResourceTriggersNeedRequests(t *testing.T) {
	requests := func(r *v1.Revision) {
		r.Spec.Containers[0].Resources.Requests = corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi"),
		}
	}
	memQueue := func(c *Config) { c.Deployment.QueueSidecarMemoryRequest = ptr.To(resource.MustParse("50Mi")) }
	for _, tc := range []struct {
		name string
		rev  *v1.Revision
		cfg  func(*Config)
		want []string
	}{
		{"KPA: no resource trigger", testRev(), nil, nil},
		{"cpu, user requests cpu", hpaRev(requests), nil, nil},
		{"cpu, user requests nothing", hpaRev(), nil, []string{"user-container"}},
		{"cpu, queue request configured away", hpaRev(requests), func(c *Config) { c.Deployment.QueueSidecarCPURequest = nil }, []string{QueueContainerName}},
		{"memory, stock config: the queue's default memory request", hpaRev(autoscaling.MetricAnnotationKey, "memory", autoscaling.TargetAnnotationKey, "200", requests), nil, nil},
		{"memory, user requests nothing", hpaRev(autoscaling.MetricAnnotationKey, "memory", autoscaling.TargetAnnotationKey, "200"), nil, []string{"user-container"}},
		{"memory, queue-sidecar-memory-limit alone", hpaRev(autoscaling.MetricAnnotationKey, "memory", autoscaling.TargetAnnotationKey, "200", requests),
			func(c *Config) { c.Deployment.QueueSidecarMemoryLimit = ptr.To(resource.MustParse("100Mi")) }, nil},
		{"memory, queue-sidecar-memory-request set", hpaRev(autoscaling.MetricAnnotationKey, "memory", autoscaling.TargetAnnotationKey, "200", requests), memQueue, nil},
		{"memory, queue request by annotation", hpaRev(autoscaling.MetricAnnotationKey, "memory", autoscaling.TargetAnnotationKey, "200",
			serving.QueueSidecarMemoryResourceRequestAnnotationKey, "50Mi", requests), nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			so, err := MakeScaledObject(tc.rev, cfg)
			if err != nil {
				t.Fatal(err)
			}
			dep, err := MakeDeployment(tc.rev, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := missingRequests(so, dep); !slices.Equal(got, tc.want) {
				t.Errorf("containers without the request = %v, want %v", got, tc.want)
			}
		})
	}
}
