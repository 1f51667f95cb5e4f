//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Knative's HPA class becomes a KEDA cpu or memory trigger that KEDA's own
// webhook accepts (the queue sidecar's requests included) and KEDA turns
// into an HPA with Knative's targets: cpu as a utilization of ceil(target)
// %, memory as an average value of target MiB, at least one replica. The
// revisions serve.
func TestHPAClass(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	ns := createNamespace(t, ctx, "e2e-hpa")
	for _, tc := range []struct {
		name, metric, target string
		requests             map[string]any
		want                 autoscalingv2.MetricTarget
	}{{
		name: "cpu", metric: "cpu", target: "70.5", requests: map[string]any{"cpu": "50m"},
		want: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptrInt32(71)},
	}, {
		name: "memory", metric: "memory", target: "200", requests: map[string]any{"memory": "64Mi"},
		want: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: quantity("200Mi")},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			host := applyKsvc(t, ctx, ns, ksvcSpec{name: tc.name, image: testImage(t), requests: tc.requests,
				env: map[string]string{"MESSAGE": tc.name},
				annotations: map[string]string{
					"autoscaling.knative.dev/class":  "hpa.autoscaling.knative.dev",
					"autoscaling.knative.dev/metric": tc.metric,
					"autoscaling.knative.dev/target": tc.target,
				}})
			rev := tc.name + "-00001"
			eventually(t, ctx, "ScaledObject "+rev+" Ready with its "+tc.metric+" trigger", func() error {
				return resourceScaledObjectError(t, ctx, ns, rev, tc.metric)
			})
			var hpa *autoscalingv2.HorizontalPodAutoscaler
			eventually(t, ctx, "KEDA's HPA for "+rev, func() error {
				var err error
				hpa, err = cluster.kube.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, "keda-hpa-"+rev, metav1.GetOptions{})
				return err
			})
			if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 1 {
				t.Errorf("HPA minReplicas %v, want at least 1", hpa.Spec.MinReplicas)
			}
			if m := hpa.Spec.Metrics; len(m) != 1 || m[0].Type != autoscalingv2.ResourceMetricSourceType || m[0].Resource == nil ||
				string(m[0].Resource.Name) != tc.metric || !sameTarget(m[0].Resource.Target, tc.want) {
				t.Errorf("HPA metrics %+v, want one %s resource metric with target %+v", m, tc.metric, tc.want)
			}
			if r := newClient(t, ctx, host, time.Minute).mustGet(t, ctx, "/", 200); r.body != tc.name+"\n" {
				t.Errorf("body %q, want %q", r.body, tc.name+"\n")
			}
		})
	}
}

// resourceScaledObjectError says why the revision's ScaledObject is not
// KEDA-Ready with one trigger of type metric and at least one replica.
func resourceScaledObjectError(t *testing.T, ctx context.Context, ns, rev, metric string) error {
	so, err := dynamicClient(t).Resource(scaledObjectGVR).Namespace(ns).Get(ctx, rev, metav1.GetOptions{})
	if err != nil {
		return err
	}
	triggers, _, _ := unstructured.NestedSlice(so.Object, "spec", "triggers")
	if len(triggers) != 1 || triggers[0].(map[string]any)["type"] != metric {
		return fmt.Errorf("triggers %v, want one of type %s", triggers, metric)
	}
	if lo, _, _ := unstructured.NestedInt64(so.Object, "spec", "minReplicaCount"); lo < 1 {
		return fmt.Errorf("minReplicaCount %d, want at least 1", lo)
	}
	conditions, _, _ := unstructured.NestedSlice(so.Object, "status", "conditions")
	for _, c := range conditions {
		c, _ := c.(map[string]any)
		if c["type"] == "Ready" {
			if c["status"] != string(corev1.ConditionTrue) {
				return fmt.Errorf("Ready %v: %v", c["status"], c["message"])
			}
			return nil
		}
	}
	return fmt.Errorf("no Ready condition yet: %v", conditions)
}

func sameTarget(got, want autoscalingv2.MetricTarget) bool {
	if got.Type != want.Type {
		return false
	}
	switch want.Type {
	case autoscalingv2.UtilizationMetricType:
		return got.AverageUtilization != nil && *got.AverageUtilization == *want.AverageUtilization
	default:
		return got.AverageValue != nil && got.AverageValue.Cmp(*want.AverageValue) == 0
	}
}

func ptrInt32(v int32) *int32 { return &v }

func quantity(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}
