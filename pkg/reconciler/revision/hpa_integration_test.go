//go:build integration

package revision_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/serving/pkg/apis/autoscaling"
	v1 "knative.dev/serving/pkg/apis/serving/v1"

	"csclr.dev/csclr/pkg/names"
	"csclr.dev/csclr/pkg/reconciler/revision/resources"
)

// A revision of Knative's HPA class on cpu, with the defaults that matter
// (min-scale 0, initial-scale 0, target-burst-capacity 211): KEDA's cpu
// trigger on the target itself, never below one pod, and the activator out
// of the path as soon as one pod is ready.
func TestHPAClassRevision(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	activator := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "csclr-activator-hpa", Namespace: cfg.SystemNamespace,
			Labels: map[string]string{discoveryv1.LabelServiceName: resources.ActivatorService}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.9.9.8"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
	}
	if err := k8s.Create(ctx, activator); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, activator) })
	rev := newRevision(t, ns, "registry.example/hello:v1", map[string]string{
		autoscaling.ClassAnnotationKey:        autoscaling.HPA,
		autoscaling.MetricAnnotationKey:       autoscaling.CPU,
		autoscaling.TargetAnnotationKey:       "60",
		autoscaling.InitialScaleAnnotationKey: "0",
	})

	so := &kedav1alpha1.ScaledObject{}
	eventually(t, "ScaledObject", func() string {
		if err := get(t, ns, names.ScaledObject(rev.Name), so); err != nil {
			return err.Error()
		}
		return ""
	})
	_ = get(t, ns, rev.Name, rev)
	want, err := resources.MakeScaledObject(rev, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(want.Spec, so.Spec) {
		t.Errorf("stored spec %+v differs from the built one %+v (pruned?)", so.Spec, want.Spec)
	}
	wantTriggers := []kedav1alpha1.ScaleTriggers{{Type: "cpu", MetricType: autoscalingv2.UtilizationMetricType, Metadata: map[string]string{"value": "60"}}}
	if !equality.Semantic.DeepEqual(so.Spec.Triggers, wantTriggers) {
		t.Errorf("triggers = %+v, want %+v", so.Spec.Triggers, wantTriggers)
	}
	if so.Spec.MinReplicaCount == nil || *so.Spec.MinReplicaCount != 1 || so.Spec.IdleReplicaCount != nil ||
		so.Spec.MaxReplicaCount == nil || *so.Spec.MaxReplicaCount != math.MaxInt32 {
		t.Errorf("min/idle/max = %v/%v/%v, want 1/nil/%d", so.Spec.MinReplicaCount, so.Spec.IdleReplicaCount, so.Spec.MaxReplicaCount, math.MaxInt32)
	}
	if b := so.Spec.Advanced.HorizontalPodAutoscalerConfig.Behavior; b != nil {
		t.Errorf("behavior = %+v, want the HPA's defaults", b)
	}
	dep := &appsv1.Deployment{}
	if err := get(t, ns, names.Deployment(rev.Name), dep); err != nil {
		t.Fatal(err)
	}
	if r := dep.Spec.Replicas; r == nil || *r != 1 {
		t.Errorf("Deployment replicas = %v, want 1 (the HPA class never starts at zero)", r)
	}

	slice := &discoveryv1.EndpointSlice{}
	endpoints := func(mode resources.Mode, ip string) func() string {
		return func() string {
			if err := get(t, ns, names.PublicEndpointSlice(rev.Name), slice); err != nil {
				return err.Error()
			}
			if got := slice.Labels[resources.ModeLabelKey]; got != string(mode) {
				return fmt.Sprintf("mode %q, want %q", got, mode)
			}
			if len(slice.Endpoints) != 1 || slice.Endpoints[0].Addresses[0] != ip {
				return fmt.Sprintf("endpoints %+v, want %s", slice.Endpoints, ip)
			}
			return ""
		}
	}
	eventually(t, "proxy while no pod is ready", endpoints(resources.ModeProxy, "10.9.9.8"))
	eventually(t, "deploying", func() string {
		return condition(t, rev, v1.RevisionConditionReady, corev1.ConditionUnknown, "")
	})
	// One pod serves, although target-burst-capacity 211 would want three
	// for the KPA class.
	addPod(t, rev, "hello-00001-a", "10.0.0.17", true)
	eventually(t, "serve endpoints", endpoints(resources.ModeServe, "10.0.0.17"))
	eventually(t, "ready", func() string { return condition(t, rev, v1.RevisionConditionReady, corev1.ConditionTrue, "") })
}
