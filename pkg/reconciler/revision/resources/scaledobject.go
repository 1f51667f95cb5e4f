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
	autoscalingv1alpha1 "knative.dev/serving/pkg/apis/autoscaling/v1alpha1"
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

// cooldown is KEDA's cooldownPeriod: how long after the scaler last said
// active a revision may go to zero. KEDA counts it from the last poll that
// saw the revision active, which can come up to one polling interval before
// the scaler turned inactive. Knative's scale-to-zero-pod-retention-period
// and scale-down-delay are minimums after that moment, so a set one gets
// the interval on top; the grace period is an upper bound in Knative and is
// taken as it is.
func cooldown(grace, retention, delay time.Duration) time.Duration {
	poll := PollingIntervalSeconds * time.Second
	atLeast := func(d time.Duration) time.Duration {
		if d <= 0 {
			return 0
		}
		return d + poll
	}
	return max(grace, atLeast(retention), atLeast(delay))
}

// scaleTickSeconds is Knative's autoscaler tick, used as the period of the
// HPA's rate policies.
const scaleTickSeconds = 2

// MakeScaledObject builds the KEDA ScaledObject that scales a revision's
// Deployment from the autoscaling.knative.dev annotations and
// config-autoscaler. SCALING.md tables every mapping.
func MakeScaledObject(rev *v1.Revision, cfg Config) (*kedav1alpha1.ScaledObject, error) {
	pa := paView(rev, cfg)
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
	behavior := makeBehavior(cfg, delay)
	if onResourceMetric(pa) {
		behavior = hpaClassBehavior(pa)
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
			CooldownPeriod:        ptr.To(seconds(cooldown(as.ScaleToZeroGracePeriod, retention, delay))),
			MinReplicaCount:       ptr.To(b.min),
			IdleReplicaCount:      b.idle,
			MaxReplicaCount:       ptr.To(b.max),
			Advanced: &kedav1alpha1.AdvancedConfig{
				HorizontalPodAutoscalerConfig: &kedav1alpha1.HorizontalPodAutoscalerConfig{
					Behavior: behavior,
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
//
// Knative's HPA class never scales to zero: MakeHPA leaves minReplicas unset
// below 1 and the apiserver defaults it to 1 (min-scale 0, an unreachable
// revision and enable-scale-to-zero alike), and it ignores activation-scale,
// a scale-from-zero knob. KEDA agrees: it refuses a ScaledObject whose only
// triggers are cpu/memory with minReplicaCount 0.
func scaleBoundsOf(rev *v1.Revision, cfg Config) scaleBounds {
	pa := paView(rev, cfg)
	hpa := pa.Class() == autoscaling.HPA
	lo, hi := pa.ScaleBounds(cfg.Autoscaler)
	if lo == 0 && (hpa || !cfg.Autoscaler.EnableScaleToZero) {
		lo = 1
	}
	b := scaleBounds{min: lo, max: hi}
	if act, ok := pa.ActivationScale(); ok && act > lo && !hpa {
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
	if v, ok := paView(rev, cfg).InitialScale(); ok {
		initial = v
	}
	b := scaleBoundsOf(rev, cfg)
	if b.idle == nil || initial > 0 {
		initial = max(initial, b.min)
	}
	return min(initial, b.max)
}

func makeTrigger(rev *v1.Revision, cfg Config, window time.Duration, panicWin, panicThr float64) (kedav1alpha1.ScaleTriggers, error) {
	pa := paView(rev, cfg)
	if onResourceMetric(pa) {
		// Only the resource trigger: the HPA class never scales to zero, so
		// there is nothing for csclr's scaler to wake up.
		return makeResourceTrigger(pa), nil
	}
	target, _ := asresources.ResolveMetricTarget(pa, cfg.Autoscaler)
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
			MetaMetric:    metricOf(pa),
			MetaTarget:    strconv.FormatFloat(target, 'f', -1, 64),
			MetaWindow:    window.String(),
			MetaPanicWin:  strconv.FormatFloat(panicWin, 'f', -1, 64),
			MetaPanicThr:  strconv.FormatFloat(panicThr, 'f', -1, 64),
		},
	}, nil
}

// hpaDefaultCPUUtilization is the apiserver's default metric for an HPA
// that names none (k8s.io/kubernetes pkg/apis/autoscaling/v2/defaults.go):
// Knative's HPA class writes no metric when the revision has no target
// annotation, whichever of cpu or memory it asks for.
const hpaDefaultCPUUtilization = 80

// onResourceMetric reports whether the revision uses Knative's HPA class on
// cpu or memory (the class's default metric is cpu), which KEDA's own
// resource triggers implement.
func onResourceMetric(pa *autoscalingv1alpha1.PodAutoscaler) bool {
	if pa.Class() != autoscaling.HPA {
		return false
	}
	m := pa.Metric()
	return m == autoscaling.CPU || m == autoscaling.Memory
}

// makeResourceTrigger is the KEDA cpu/memory trigger of the metric Knative's
// HPA class gives the HPA: the target annotation alone (not
// target-utilization-percentage, not containerConcurrency) as a CPU
// utilization percentage rounded up, or as MiB of memory per pod (an
// AverageValue, truncated to whole MiB as Knative does); no target
// annotation leaves the HPA's own default, 80 % CPU.
func makeResourceTrigger(pa *autoscalingv1alpha1.PodAutoscaler) kedav1alpha1.ScaleTriggers {
	cpu := func(percent int64) kedav1alpha1.ScaleTriggers {
		return kedav1alpha1.ScaleTriggers{
			Type:       autoscaling.CPU,
			MetricType: autoscalingv2.UtilizationMetricType,
			Metadata:   map[string]string{"value": strconv.FormatInt(percent, 10)},
		}
	}
	target, ok := pa.Target()
	switch {
	case !ok:
		return cpu(hpaDefaultCPUUtilization)
	case pa.Metric() == autoscaling.Memory:
		// Knative's targets below 1 truncate to 0, which the apiserver
		// refuses in an HPA (an AverageValue must be positive); 1 MiB is the
		// nearest target it accepts.
		mib := max(1, int64(min(target, math.MaxInt64/(1<<20))))
		return kedav1alpha1.ScaleTriggers{
			Type:       autoscaling.Memory,
			MetricType: autoscalingv2.AverageValueMetricType,
			Metadata:   map[string]string{"value": resource.NewQuantity(mib<<20, resource.BinarySI).String()},
		}
	default:
		// KEDA parses the value as an int32.
		return cpu(int64(min(math.Ceil(target), math.MaxInt32)))
	}
}

// hpaClassBehavior is the HPA behaviour of Knative's HPA class: the HPA's
// defaults (the cluster's downscale stabilization, 100 % or 4 pods per 15 s
// up, 100 % per 15 s down, 10 % tolerance) except that a window annotation
// becomes the stabilization window both ways. Knative's rates and
// scale-down-delay do not apply to the class.
func hpaClassBehavior(pa *autoscalingv1alpha1.PodAutoscaler) *autoscalingv2.HorizontalPodAutoscalerBehavior {
	w, ok := pa.Window()
	if !ok {
		return nil
	}
	return &autoscalingv2.HorizontalPodAutoscalerBehavior{
		ScaleUp:   &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To(seconds(w))},
		ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To(seconds(w))},
	}
}

// makeBehavior turns Knative's rate limits and scale-down-delay into HPA
// behaviour for csclr's own metric. The scaler already averages over the
// stable window, so the HPA's scale-down stabilization is exactly Knative's
// scale-down-delay (both act on the highest recommendation over the period).
//
// Knative's autoscaler wants exactly ceil(load/target) pods; the HPA
// ignores changes within 10 % of the current count unless told otherwise.
// The metric is exact, so the tolerance is 0: 10 pods at 10.9 pods' worth
// of load become 11 as in Knative. (The field is beta and on by default from
// Kubernetes 1.35; older clusters drop it and keep 10 %.)
func makeBehavior(cfg Config, delay time.Duration) *autoscalingv2.HorizontalPodAutoscalerBehavior {
	as := cfg.Autoscaler
	up := int32(math.Min(math.MaxInt32, math.Round((as.MaxScaleUpRate-1)*100)))
	down := int32(math.Round((1 - 1/as.MaxScaleDownRate) * 100))
	tolerance := ptr.To(resource.MustParse("0"))
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
