package resources

import (
	"fmt"
	"math"
	"strconv"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	"knative.dev/serving/pkg/apis/autoscaling"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	asresources "knative.dev/serving/pkg/reconciler/autoscaling/resources"

	"csclr.dev/csclr/pkg/names"
)

// The external-push trigger's metadata: the contract with csclr's scaler,
// which receives it in every ScaledObjectRef. See SCALING.md.
const (
	TriggerType   = "external-push"
	TriggerName   = "csclr"
	MetaScaler    = "scalerAddress"            // host:port of the scaler (read by KEDA)
	MetaNamespace = "namespace"                // the revision's namespace
	MetaRevision  = "revision"                 // the revision's name
	MetaMetric    = "metric"                   // "concurrency" or "rps"
	MetaTarget    = "target"                   // per-pod target of the metric (float)
	MetaWindow    = "window"                   // stable window (Go duration)
	MetaPanicWin  = "panicWindowPercentage"    // panic window as % of the stable window
	MetaPanicThr  = "panicThresholdPercentage" // panic when load > this % of capacity
)

// PollingIntervalSeconds is how often KEDA asks the scaler IsActive. Scale
// from zero does not wait for it (the scaler pushes "active"); it only sets
// how promptly an idle revision's cooldown starts.
const PollingIntervalSeconds = 10

// scaleTickSeconds is Knative's autoscaler tick, used as the period of the
// HPA's rate policies.
const scaleTickSeconds = 2

// MakeScaledObject builds the KEDA ScaledObject that scales a revision's
// Deployment from the autoscaling.knative.dev annotations and
// config-autoscaler. SCALING.md tables every mapping.
func MakeScaledObject(rev *v1.Revision, cfg Config) (*kedav1alpha1.ScaledObject, error) {
	pa := paView(rev)
	as := cfg.Autoscaler
	b := scaleBoundsOf(rev, cfg)

	window := as.StableWindow
	if w, ok := pa.Window(); ok {
		window = w
	}
	delay := as.ScaleDownDelay
	if d, ok := pa.ScaleDownDelay(); ok {
		delay = d
	}
	retention := as.ScaleToZeroPodRetentionPeriod
	if r, ok := pa.ScaleToZeroPodRetention(); ok {
		retention = r
	}
	panicWin, panicThr := as.PanicWindowPercentage, as.PanicThresholdPercentage
	if v, ok := pa.PanicWindowPercentage(); ok {
		panicWin = v
	}
	if v, ok := pa.PanicThresholdPercentage(); ok {
		panicThr = v
	}

	trigger, err := makeTrigger(rev, cfg, window, panicWin, panicThr)
	if err != nil {
		return nil, err
	}
	so := &kedav1alpha1.ScaledObject{
		ObjectMeta: makeObjectMeta(rev, names.ScaledObject(rev.Name)),
		Spec: kedav1alpha1.ScaledObjectSpec{
			ScaleTargetRef: &kedav1alpha1.ScaleTarget{
				APIVersion: "apps/v1",
				Kind:       "Deployment",
				Name:       names.Deployment(rev.Name),
			},
			PollingInterval:       ptr.To[int32](PollingIntervalSeconds),
			InitialCooldownPeriod: ptr.To(seconds(window)),
			CooldownPeriod:        ptr.To(seconds(max(as.ScaleToZeroGracePeriod, retention, delay))),
			MinReplicaCount:       ptr.To(b.min),
			IdleReplicaCount:      b.idle,
			MaxReplicaCount:       ptr.To(b.max),
			Advanced: &kedav1alpha1.AdvancedConfig{
				HorizontalPodAutoscalerConfig: &kedav1alpha1.HorizontalPodAutoscalerConfig{
					Behavior: makeBehavior(cfg, delay, trigger.Type == TriggerType),
				},
			},
			Triggers: []kedav1alpha1.ScaleTriggers{trigger},
		},
	}
	return so, nil
}

type scaleBounds struct {
	min, max int32
	idle     *int32
}

// scaleBoundsOf maps min-scale, max-scale and activation-scale. Knative's
// activation-scale ("when scaling from zero, go to at least N") is KEDA's
// idle mode: idleReplicaCount 0 while inactive, minReplicaCount N once
// active.
func scaleBoundsOf(rev *v1.Revision, cfg Config) scaleBounds {
	pa := paView(rev)
	lo, hi := pa.ScaleBounds(cfg.Autoscaler)
	if lo == 0 && !cfg.Autoscaler.EnableScaleToZero {
		lo = 1
	}
	b := scaleBounds{min: lo, max: hi}
	if act, ok := pa.ActivationScale(); ok && act > lo {
		if lo == 0 {
			b.idle = ptr.To[int32](0)
		}
		b.min = act
	}
	if b.max == 0 { // Knative: 0 = unlimited.
		b.max = math.MaxInt32
	}
	b.max = max(b.max, b.min, 1)
	return b
}

// InitialReplicas is the Deployment's replica count at create: Knative's
// initial-scale (annotation, else config-autoscaler initial-scale), raised
// to the scale bounds. KEDA takes over from there.
func InitialReplicas(rev *v1.Revision, cfg Config) int32 {
	initial := cfg.Autoscaler.InitialScale
	if v, ok := paView(rev).InitialScale(); ok {
		initial = v
	}
	b := scaleBoundsOf(rev, cfg)
	if b.idle == nil || initial > 0 {
		initial = max(initial, b.min)
	}
	return min(initial, b.max)
}

func makeTrigger(rev *v1.Revision, cfg Config, window time.Duration, panicWin, panicThr float64) (kedav1alpha1.ScaleTriggers, error) {
	pa := paView(rev)
	target, _ := asresources.ResolveMetricTarget(pa, cfg.Autoscaler)
	if pa.Class() == autoscaling.HPA {
		switch m := pa.Metric(); m {
		case autoscaling.CPU, autoscaling.Memory:
			// Knative's HPA class on a resource metric is KEDA's own trigger.
			return kedav1alpha1.ScaleTriggers{
				Type:       m,
				MetricType: autoscalingv2.UtilizationMetricType,
				Metadata:   map[string]string{"value": strconv.Itoa(int(math.Round(target)))},
			}, nil
		}
	}
	if cfg.ScalerAddress == "" {
		return kedav1alpha1.ScaleTriggers{}, fmt.Errorf("revision %s/%s: no scaler address configured: set the controller's scaler address", rev.Namespace, rev.Name)
	}
	return kedav1alpha1.ScaleTriggers{
		Type:       TriggerType,
		Name:       TriggerName,
		MetricType: autoscalingv2.AverageValueMetricType,
		Metadata: map[string]string{
			MetaScaler:    cfg.ScalerAddress,
			MetaNamespace: rev.Namespace,
			MetaRevision:  rev.Name,
			MetaMetric:    metricOf(rev),
			MetaTarget:    strconv.FormatFloat(target, 'f', -1, 64),
			MetaWindow:    window.String(),
			MetaPanicWin:  strconv.FormatFloat(panicWin, 'f', -1, 64),
			MetaPanicThr:  strconv.FormatFloat(panicThr, 'f', -1, 64),
		},
	}, nil
}

// makeBehavior turns Knative's rate limits and scale-down-delay into HPA
// behaviour. The scaler already averages over the stable window, so the
// HPA's scale-down stabilization is exactly Knative's scale-down-delay (both
// act on the highest recommendation over the period).
//
// Knative's autoscaler wants exactly ceil(load/target) pods; the HPA
// ignores changes within 10 % of the current count unless told otherwise.
// For csclr's own metric (exact) the tolerance is 0, so that 10 pods at
// 10.9 pods' worth of load become 11 as in Knative. The HPA class keeps the
// HPA's default, as Knative's HPA class does. (The field is beta and on by
// default from Kubernetes 1.35; older clusters drop it and keep 10 %.)
func makeBehavior(cfg Config, delay time.Duration, exact bool) *autoscalingv2.HorizontalPodAutoscalerBehavior {
	as := cfg.Autoscaler
	up := int32(math.Min(math.MaxInt32, math.Round((as.MaxScaleUpRate-1)*100)))
	down := int32(math.Round((1 - 1/as.MaxScaleDownRate) * 100))
	var tolerance *resource.Quantity
	if exact {
		tolerance = ptr.To(resource.MustParse("0"))
	}
	return &autoscalingv2.HorizontalPodAutoscalerBehavior{
		ScaleUp: &autoscalingv2.HPAScalingRules{
			Tolerance:                  tolerance,
			StabilizationWindowSeconds: ptr.To[int32](0),
			SelectPolicy:               ptr.To(autoscalingv2.MaxChangePolicySelect),
			Policies: []autoscalingv2.HPAScalingPolicy{
				{Type: autoscalingv2.PercentScalingPolicy, Value: max(up, 1), PeriodSeconds: scaleTickSeconds},
				// From one pod a percentage is too coarse: allow a few at once.
				{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: scaleTickSeconds},
			},
		},
		ScaleDown: &autoscalingv2.HPAScalingRules{
			Tolerance:                  tolerance,
			StabilizationWindowSeconds: ptr.To(seconds(delay)),
			SelectPolicy:               ptr.To(autoscalingv2.MaxChangePolicySelect),
			Policies: []autoscalingv2.HPAScalingPolicy{
				{Type: autoscalingv2.PercentScalingPolicy, Value: min(max(down, 1), 100), PeriodSeconds: scaleTickSeconds},
			},
		},
	}
}

func seconds(d time.Duration) int32 { return int32(math.Ceil(d.Seconds())) }
