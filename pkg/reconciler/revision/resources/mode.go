package resources

import (
	"maps"
	"math"
	"time"

	"knative.dev/serving/pkg/apis/autoscaling"
	autoscalingv1alpha1 "knative.dev/serving/pkg/apis/autoscaling/v1alpha1"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	asresources "knative.dev/serving/pkg/reconciler/autoscaling/resources"
)

// AlwaysProxy is the minReady of a revision whose target-burst-capacity is
// -1: the activator stays in its path whatever its capacity.
const AlwaysProxy = -1

// ModeHoldDown is how long a serving revision may stay short of capacity
// (some but fewer than minReady pods ready) before the activator comes back
// into its path. Going to serve is immediate and losing the last pod is
// immediate; only this middle case waits, so that a pod restarting or a
// rolling update does not flip the endpoints back and forth.
const ModeHoldDown = 10 * time.Second

// ModeState is a revision's endpoint mode plus its hysteresis state.
type ModeState struct {
	Mode Mode
	// ShortSince is when a serving revision first had fewer than minReady
	// ready pods (zero while it has enough).
	ShortSince time.Time
}

// MinReadyForServe is how many ready pods a revision needs before the
// activator leaves its path, from Knative's target-burst-capacity (TBC):
// Knative serves directly once readyPods*perPodCapacity - TBC - observed
// panic load >= 0. The controller does not see the load (the scaler does), so
// csclr takes the observed load as zero: minReady = ceil(TBC/perPodCapacity),
// at least 1. TBC 0 means "activator only at zero" (minReady 1), TBC -1
// means "always activator" (AlwaysProxy).
//
// Knative's HPA class ignores target-burst-capacity: it always asks for
// serve mode, and the activator stands in only while no pod is ready
// (knative.dev/serving pkg/reconciler/autoscaling/hpa/hpa.go,
// serverlessservice/serverlessservice.go), so its minReady is 1.
func MinReadyForServe(rev *v1.Revision, cfg Config) int {
	pa := paView(rev, cfg)
	if pa.Class() == autoscaling.HPA {
		return 1
	}
	tbc := cfg.Autoscaler.TargetBurstCapacity
	if v, ok := pa.TargetBC(); ok {
		tbc = v
	}
	if tbc < 0 {
		return AlwaysProxy
	}
	_, perPod := asresources.ResolveMetricTarget(pa, cfg.Autoscaler)
	if tbc == 0 || perPod <= 0 {
		return 1
	}
	return max(1, int(math.Ceil(tbc/perPod)))
}

// DecideMode is the serve/proxy decision for a revision with readyPods ready
// pods. It returns the next state and, when a hold-down is running, how long
// until the decision should be made again (0 otherwise).
func DecideMode(readyPods, minReady int, current ModeState, now time.Time) (ModeState, time.Duration) {
	proxy := ModeState{Mode: ModeProxy}
	switch {
	case minReady == AlwaysProxy, readyPods <= 0:
		return proxy, 0
	case readyPods >= minReady:
		return ModeState{Mode: ModeServe}, 0
	case current.Mode != ModeServe:
		return proxy, 0
	}
	// Serving, but short of capacity: wait out the hold-down first.
	if current.ShortSince.IsZero() || current.ShortSince.After(now) {
		return ModeState{Mode: ModeServe, ShortSince: now}, ModeHoldDown
	}
	if left := ModeHoldDown - now.Sub(current.ShortSince); left > 0 {
		return current, left
	}
	return proxy, 0
}

// paView wraps a revision's annotations in a PodAutoscaler, so that Knative's
// own accessors (with their camelCase aliases and defaults) read them. A
// revision without a class annotation gets config-autoscaler's
// pod-autoscaler-class, as Knative's PodAutoscaler defaulting gives it
// (pa_defaults.go); the default metric follows the class (cpu for hpa).
func paView(rev *v1.Revision, cfg Config) *autoscalingv1alpha1.PodAutoscaler {
	pa := &autoscalingv1alpha1.PodAutoscaler{}
	pa.Annotations = rev.Annotations
	if class := cfg.Autoscaler.PodAutoscalerClass; class != "" {
		if _, ok := rev.Annotations[autoscaling.ClassAnnotationKey]; !ok {
			// A copy: the revision's own map must not change.
			pa.Annotations = maps.Clone(rev.Annotations)
			if pa.Annotations == nil {
				pa.Annotations = map[string]string{}
			}
			pa.Annotations[autoscaling.ClassAnnotationKey] = class
		}
	}
	pa.Spec.ContainerConcurrency = rev.Spec.GetContainerConcurrency()
	switch rev.GetRoutingState() {
	case v1.RoutingStateActive:
		pa.Spec.Reachability = autoscalingv1alpha1.ReachabilityReachable
	case v1.RoutingStateReserve:
		pa.Spec.Reachability = autoscalingv1alpha1.ReachabilityUnreachable
	}
	return pa
}

// metricOf is the revision's scaling metric (concurrency or rps).
func metricOf(pa *autoscalingv1alpha1.PodAutoscaler) string {
	if m := pa.Metric(); m == autoscaling.RPS {
		return m
	}
	return autoscaling.Concurrency
}
