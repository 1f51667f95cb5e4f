package resources

import (
	"maps"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	"knative.dev/serving/pkg/apis/autoscaling"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
)

// wantScaledObject is the ScaledObject of testRev() with DefaultConfig().
func wantScaledObject() *kedav1alpha1.ScaledObject {
	return &kedav1alpha1.ScaledObject{
		ObjectMeta: wantMeta("hello-00001"),
		Spec: kedav1alpha1.ScaledObjectSpec{
			ScaleTargetRef:        &kedav1alpha1.ScaleTarget{APIVersion: "apps/v1", Kind: "Deployment", Name: "hello-00001-deployment"},
			PollingInterval:       ptr.To[int32](10),
			InitialCooldownPeriod: ptr.To[int32](60),
			CooldownPeriod:        ptr.To[int32](30),
			MinReplicaCount:       ptr.To[int32](0),
			MaxReplicaCount:       ptr.To[int32](math.MaxInt32),
			Advanced: &kedav1alpha1.AdvancedConfig{HorizontalPodAutoscalerConfig: &kedav1alpha1.HorizontalPodAutoscalerConfig{
				Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
					ScaleUp: &autoscalingv2.HPAScalingRules{
						Tolerance:                  ptr.To(resource.MustParse("0")),
						StabilizationWindowSeconds: ptr.To[int32](0),
						SelectPolicy:               ptr.To(autoscalingv2.MaxChangePolicySelect),
						Policies: []autoscalingv2.HPAScalingPolicy{
							{Type: autoscalingv2.PercentScalingPolicy, Value: 99900, PeriodSeconds: 2},
							{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 2},
						},
					},
					ScaleDown: &autoscalingv2.HPAScalingRules{
						Tolerance:                  ptr.To(resource.MustParse("0")),
						StabilizationWindowSeconds: ptr.To[int32](0),
						SelectPolicy:               ptr.To(autoscalingv2.MaxChangePolicySelect),
						Policies: []autoscalingv2.HPAScalingPolicy{
							{Type: autoscalingv2.PercentScalingPolicy, Value: 50, PeriodSeconds: 2},
						},
					},
				},
			}},
			Triggers: []kedav1alpha1.ScaleTriggers{{
				Type: "external-push", Name: "csclr", MetricType: autoscalingv2.AverageValueMetricType,
				Metadata: map[string]string{
					"scalerAddress": "csclr-activator.csclr-system.svc.cluster.local:9093",
					"namespace":     "ns", "revision": "hello-00001",
					"metric": "concurrency", "target": "70", "window": "1m0s",
					"panicWindowPercentage": "10", "panicThresholdPercentage": "200",
				},
			}},
		},
	}
}

// hpaRev is testRev with Knative's HPA class and the given annotations
// (key, value pairs) and revision options.
func hpaRev(args ...any) *v1.Revision {
	kv := []string{autoscaling.ClassAnnotationKey, autoscaling.HPA}
	opts := []func(*v1.Revision){}
	for _, a := range args {
		switch a := a.(type) {
		case string:
			kv = append(kv, a)
		case func(*v1.Revision):
			opts = append(opts, a)
		}
	}
	return testRev(append([]func(*v1.Revision){withAnnotations(kv...)}, opts...)...)
}

// hpaWant edits wantScaledObject() into the ScaledObject of an hpaRev on a
// resource metric: the class and the given annotations, min and max, one
// cpu/memory trigger and the HPA's default behaviour.
func hpaWant(minR, maxR int32, typ string, mt autoscalingv2.MetricTargetType, value string, kv ...string) []func(*kedav1alpha1.ScaledObject) {
	return []func(*kedav1alpha1.ScaledObject){func(so *kedav1alpha1.ScaledObject) {
		so.Annotations[autoscaling.ClassAnnotationKey] = autoscaling.HPA
		for i := 0; i+1 < len(kv); i += 2 {
			so.Annotations[kv[i]] = kv[i+1]
		}
		so.Spec.MinReplicaCount, so.Spec.MaxReplicaCount = ptr.To(minR), ptr.To(maxR)
		so.Spec.Triggers = []kedav1alpha1.ScaleTriggers{{Type: typ, MetricType: mt, Metadata: map[string]string{"value": value}}}
		so.Spec.Advanced.HorizontalPodAutoscalerConfig.Behavior = nil
	}}
}

func TestMakeScaledObject(t *testing.T) {
	ann := func(kv ...string) func(so *kedav1alpha1.ScaledObject) {
		return func(so *kedav1alpha1.ScaledObject) {
			for i := 0; i+1 < len(kv); i += 2 {
				so.Annotations[kv[i]] = kv[i+1]
			}
		}
	}
	meta := func(so *kedav1alpha1.ScaledObject) map[string]string { return so.Spec.Triggers[0].Metadata }
	for _, tc := range []struct {
		name string
		rev  *v1.Revision
		cfg  func(*Config)
		want []func(*kedav1alpha1.ScaledObject)
	}{
		{name: "defaults", rev: testRev()},
		{
			name: "min-scale and max-scale",
			rev:  testRev(withAnnotations(autoscaling.MinScaleAnnotationKey, "2", autoscaling.MaxScaleAnnotationKey, "7")),
			want: []func(*kedav1alpha1.ScaledObject){ann(autoscaling.MinScaleAnnotationKey, "2", autoscaling.MaxScaleAnnotationKey, "7"),
				func(so *kedav1alpha1.ScaledObject) {
					so.Spec.MinReplicaCount, so.Spec.MaxReplicaCount = ptr.To[int32](2), ptr.To[int32](7)
				}},
		}, {
			name: "min-scale is ignored while the revision is unreachable (routingState reserve)",
			rev: testRev(withAnnotations(autoscaling.MinScaleAnnotationKey, "2"), func(r *v1.Revision) {
				r.Labels[serving.RoutingStateLabelKey] = "reserve"
			}),
			// The label stays on the Revision (makeLabels).
			want: []func(*kedav1alpha1.ScaledObject){ann(autoscaling.MinScaleAnnotationKey, "2")},
		}, {
			name: "min and max scale from config-autoscaler",
			rev:  testRev(),
			cfg:  func(c *Config) { c.Autoscaler.MinScale, c.Autoscaler.MaxScale = 1, 3 },
			want: []func(*kedav1alpha1.ScaledObject){func(so *kedav1alpha1.ScaledObject) {
				so.Spec.MinReplicaCount, so.Spec.MaxReplicaCount = ptr.To[int32](1), ptr.To[int32](3)
			}},
		}, {
			name: "scale to zero disabled in the cluster",
			rev:  testRev(),
			cfg:  func(c *Config) { c.Autoscaler.EnableScaleToZero = false },
			want: []func(*kedav1alpha1.ScaledObject){func(so *kedav1alpha1.ScaledObject) { so.Spec.MinReplicaCount = ptr.To[int32](1) }},
		}, {
			name: "activation-scale is KEDA's idle mode",
			rev:  testRev(withAnnotations(autoscaling.ActivationScaleKey, "3")),
			want: []func(*kedav1alpha1.ScaledObject){ann(autoscaling.ActivationScaleKey, "3"), func(so *kedav1alpha1.ScaledObject) {
				so.Spec.IdleReplicaCount, so.Spec.MinReplicaCount = ptr.To[int32](0), ptr.To[int32](3)
			}},
		}, {
			name: "activation-scale above a non-zero min-scale raises the floor",
			rev:  testRev(withAnnotations(autoscaling.ActivationScaleKey, "3", autoscaling.MinScaleAnnotationKey, "1")),
			want: []func(*kedav1alpha1.ScaledObject){ann(autoscaling.ActivationScaleKey, "3", autoscaling.MinScaleAnnotationKey, "1"), func(so *kedav1alpha1.ScaledObject) {
				so.Spec.MinReplicaCount = ptr.To[int32](3)
			}},
		}, {
			name: "target is min(target, containerConcurrency) times utilization",
			rev:  testRev(withCC(10), withAnnotations(autoscaling.TargetAnnotationKey, "50", autoscaling.TargetUtilizationPercentageKey, "50")),
			want: []func(*kedav1alpha1.ScaledObject){ann(autoscaling.TargetAnnotationKey, "50", autoscaling.TargetUtilizationPercentageKey, "50"), func(so *kedav1alpha1.ScaledObject) {
				meta(so)["target"] = "5"
			}},
		}, {
			name: "containerConcurrency alone",
			rev:  testRev(withCC(10)),
			want: []func(*kedav1alpha1.ScaledObject){func(so *kedav1alpha1.ScaledObject) { meta(so)["target"] = "7" }},
		}, {
			name: "rps metric with its default target",
			rev:  testRev(withAnnotations(autoscaling.MetricAnnotationKey, "rps")),
			want: []func(*kedav1alpha1.ScaledObject){ann(autoscaling.MetricAnnotationKey, "rps"), func(so *kedav1alpha1.ScaledObject) {
				meta(so)["metric"], meta(so)["target"] = "rps", "140"
			}},
		}, {
			name: "window, panic knobs, scale-down-delay and pod retention",
			rev: testRev(withAnnotations(autoscaling.WindowAnnotationKey, "2m", autoscaling.ScaleDownDelayAnnotationKey, "45s",
				autoscaling.ScaleToZeroPodRetentionPeriodKey, "90s", autoscaling.PanicWindowPercentageAnnotationKey, "20",
				autoscaling.PanicThresholdPercentageAnnotationKey, "150")),
			want: []func(*kedav1alpha1.ScaledObject){ann(autoscaling.WindowAnnotationKey, "2m", autoscaling.ScaleDownDelayAnnotationKey, "45s",
				autoscaling.ScaleToZeroPodRetentionPeriodKey, "90s", autoscaling.PanicWindowPercentageAnnotationKey, "20",
				autoscaling.PanicThresholdPercentageAnnotationKey, "150"), func(so *kedav1alpha1.ScaledObject) {
				meta(so)["window"], meta(so)["panicWindowPercentage"], meta(so)["panicThresholdPercentage"] = "2m0s", "20", "150"
				so.Spec.InitialCooldownPeriod = ptr.To[int32](120)
				so.Spec.CooldownPeriod = ptr.To[int32](100) // retention 90 s + KEDA's 10 s poll
				so.Spec.Advanced.HorizontalPodAutoscalerConfig.Behavior.ScaleDown.StabilizationWindowSeconds = ptr.To[int32](45)
			}},
		}, {
			name: "rates from config-autoscaler",
			rev:  testRev(),
			cfg:  func(c *Config) { c.Autoscaler.MaxScaleUpRate, c.Autoscaler.MaxScaleDownRate = 3, 4 },
			want: []func(*kedav1alpha1.ScaledObject){func(so *kedav1alpha1.ScaledObject) {
				b := so.Spec.Advanced.HorizontalPodAutoscalerConfig.Behavior
				b.ScaleUp.Policies[0].Value, b.ScaleDown.Policies[0].Value = 200, 75
			}},
		},
		// Knative's HPA class (pkg/reconciler/autoscaling/hpa/resources/hpa.go):
		// the target annotation alone, never below one pod, HPA behaviour.
		{
			name: "HPA class on cpu: the target is the utilization percentage, target-utilization does not apply",
			rev:  hpaRev(autoscaling.MetricAnnotationKey, "cpu", autoscaling.TargetAnnotationKey, "80"),
			want: hpaWant(1, math.MaxInt32, "cpu", autoscalingv2.UtilizationMetricType, "80",
				autoscaling.MetricAnnotationKey, "cpu", autoscaling.TargetAnnotationKey, "80"),
		}, {
			name: "HPA class on cpu: a fractional target rounds up",
			rev:  hpaRev(autoscaling.MetricAnnotationKey, "cpu", autoscaling.TargetAnnotationKey, "62.1", autoscaling.TargetUtilizationPercentageKey, "50"),
			want: hpaWant(1, math.MaxInt32, "cpu", autoscalingv2.UtilizationMetricType, "63",
				autoscaling.MetricAnnotationKey, "cpu", autoscaling.TargetAnnotationKey, "62.1", autoscaling.TargetUtilizationPercentageKey, "50"),
		}, {
			name: "HPA class on cpu without a target: the HPA's default 80 %",
			rev:  hpaRev(autoscaling.MetricAnnotationKey, "cpu"),
			want: hpaWant(1, math.MaxInt32, "cpu", autoscalingv2.UtilizationMetricType, "80", autoscaling.MetricAnnotationKey, "cpu"),
		}, {
			name: "HPA class without a metric is on cpu",
			rev:  hpaRev(autoscaling.TargetAnnotationKey, "50"),
			want: hpaWant(1, math.MaxInt32, "cpu", autoscalingv2.UtilizationMetricType, "50", autoscaling.TargetAnnotationKey, "50"),
		}, {
			name: "HPA class on memory: the target is MiB per pod",
			rev:  hpaRev(autoscaling.MetricAnnotationKey, "memory", autoscaling.TargetAnnotationKey, "200"),
			want: hpaWant(1, math.MaxInt32, "memory", autoscalingv2.AverageValueMetricType, "200Mi",
				autoscaling.MetricAnnotationKey, "memory", autoscaling.TargetAnnotationKey, "200"),
		}, {
			name: "HPA class on memory: whole MiB, as Knative truncates",
			rev:  hpaRev(autoscaling.MetricAnnotationKey, "memory", autoscaling.TargetAnnotationKey, "2048.9"),
			want: hpaWant(1, math.MaxInt32, "memory", autoscalingv2.AverageValueMetricType, "2Gi",
				autoscaling.MetricAnnotationKey, "memory", autoscaling.TargetAnnotationKey, "2048.9"),
		}, {
			name: "HPA class on memory: a target below 1 MiB is 1 MiB, not the 0 an HPA refuses",
			rev:  hpaRev(autoscaling.MetricAnnotationKey, "memory", autoscaling.TargetAnnotationKey, "0.5"),
			want: hpaWant(1, math.MaxInt32, "memory", autoscalingv2.AverageValueMetricType, "1Mi",
				autoscaling.MetricAnnotationKey, "memory", autoscaling.TargetAnnotationKey, "0.5"),
		}, {
			name: "HPA class on memory without a target: the HPA's default, 80 % cpu",
			rev:  hpaRev(autoscaling.MetricAnnotationKey, "memory"),
			want: hpaWant(1, math.MaxInt32, "cpu", autoscalingv2.UtilizationMetricType, "80", autoscaling.MetricAnnotationKey, "memory"),
		}, {
			name: "HPA class: min-scale 0 is one pod",
			rev:  hpaRev(autoscaling.MinScaleAnnotationKey, "0"),
			want: hpaWant(1, math.MaxInt32, "cpu", autoscalingv2.UtilizationMetricType, "80", autoscaling.MinScaleAnnotationKey, "0"),
		}, {
			name: "HPA class: min-scale and max-scale",
			rev:  hpaRev(autoscaling.MinScaleAnnotationKey, "3", autoscaling.MaxScaleAnnotationKey, "7"),
			want: hpaWant(3, 7, "cpu", autoscalingv2.UtilizationMetricType, "80", autoscaling.MinScaleAnnotationKey, "3", autoscaling.MaxScaleAnnotationKey, "7"),
		}, {
			name: "HPA class: max-scale 1",
			rev:  hpaRev(autoscaling.MaxScaleAnnotationKey, "1"),
			want: hpaWant(1, 1, "cpu", autoscalingv2.UtilizationMetricType, "80", autoscaling.MaxScaleAnnotationKey, "1"),
		}, {
			name: "HPA class: min-scale from config-autoscaler",
			rev:  hpaRev(),
			cfg:  func(c *Config) { c.Autoscaler.MinScale = 2 },
			want: hpaWant(2, math.MaxInt32, "cpu", autoscalingv2.UtilizationMetricType, "80"),
		}, {
			name: "HPA class: an unreachable revision keeps one pod",
			rev: hpaRev(autoscaling.MinScaleAnnotationKey, "3", func(r *v1.Revision) {
				r.Labels[serving.RoutingStateLabelKey] = "reserve"
			}),
			want: hpaWant(1, math.MaxInt32, "cpu", autoscalingv2.UtilizationMetricType, "80", autoscaling.MinScaleAnnotationKey, "3"),
		}, {
			name: "HPA class ignores activation-scale (a scale-from-zero knob)",
			rev:  hpaRev(autoscaling.ActivationScaleKey, "3"),
			want: hpaWant(1, math.MaxInt32, "cpu", autoscalingv2.UtilizationMetricType, "80", autoscaling.ActivationScaleKey, "3"),
		}, {
			name: "HPA class: the window stabilizes both ways; rates and scale-down-delay do not apply",
			rev:  hpaRev(autoscaling.WindowAnnotationKey, "2m", autoscaling.ScaleDownDelayAnnotationKey, "45s"),
			cfg:  func(c *Config) { c.Autoscaler.MaxScaleUpRate = 3 },
			want: append(hpaWant(1, math.MaxInt32, "cpu", autoscalingv2.UtilizationMetricType, "80",
				autoscaling.WindowAnnotationKey, "2m", autoscaling.ScaleDownDelayAnnotationKey, "45s"),
				func(so *kedav1alpha1.ScaledObject) {
					so.Spec.InitialCooldownPeriod, so.Spec.CooldownPeriod = ptr.To[int32](120), ptr.To[int32](55)
					so.Spec.Advanced.HorizontalPodAutoscalerConfig.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{
						ScaleUp:   &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](120)},
						ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](120)},
					}
				}),
		}, {
			name: "HPA class on concurrency: csclr's scaler, but never below one pod",
			rev:  hpaRev(autoscaling.MetricAnnotationKey, "concurrency"),
			want: []func(*kedav1alpha1.ScaledObject){ann(autoscaling.ClassAnnotationKey, autoscaling.HPA, autoscaling.MetricAnnotationKey, "concurrency"),
				func(so *kedav1alpha1.ScaledObject) { so.Spec.MinReplicaCount = ptr.To[int32](1) }},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			want := wantScaledObject()
			for _, f := range tc.want {
				f(want)
			}
			got, err := MakeScaledObject(tc.rev, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("MakeScaledObject (-want +got):\n%s", diff)
			}
		})
	}
	cfg := DefaultConfig()
	cfg.ScalerAddress = ""
	if _, err := MakeScaledObject(testRev(), cfg); err == nil {
		t.Error("MakeScaledObject without a scaler address succeeded, want an error")
	}
}

func TestInitialReplicas(t *testing.T) {
	for _, tc := range []struct {
		name string
		rev  *v1.Revision
		cfg  func(*Config)
		want int32
	}{
		{"config default 1", testRev(), nil, 1},
		{"config default 0", testRev(), func(c *Config) { c.Autoscaler.InitialScale = 0 }, 0},
		{"annotation", testRev(withAnnotations(autoscaling.InitialScaleAnnotationKey, "4")), nil, 4},
		{"zero annotation", testRev(withAnnotations(autoscaling.InitialScaleAnnotationKey, "0")), nil, 0},
		{"raised to min-scale", testRev(withAnnotations(autoscaling.MinScaleAnnotationKey, "3")), nil, 3},
		{"capped by max-scale", testRev(withAnnotations(autoscaling.InitialScaleAnnotationKey, "9", autoscaling.MaxScaleAnnotationKey, "5")), nil, 5},
		{"raised to activation-scale", testRev(withAnnotations(autoscaling.ActivationScaleKey, "2")), nil, 2},
		{"zero stays zero with activation-scale", testRev(withAnnotations(autoscaling.ActivationScaleKey, "2", autoscaling.InitialScaleAnnotationKey, "0")), nil, 0},
		// The HPA class never has zero pods, whatever initial-scale says.
		{"HPA class", hpaRev(), nil, 1},
		{"HPA class, zero annotation", hpaRev(autoscaling.InitialScaleAnnotationKey, "0"), nil, 1},
		{"HPA class, config default 0", hpaRev(), func(c *Config) { c.Autoscaler.InitialScale = 0 }, 1},
		{"HPA class, annotation", hpaRev(autoscaling.InitialScaleAnnotationKey, "4"), nil, 4},
		{"HPA class, raised to min-scale", hpaRev(autoscaling.MinScaleAnnotationKey, "3"), nil, 3},
		{"HPA class, capped by max-scale", hpaRev(autoscaling.InitialScaleAnnotationKey, "9", autoscaling.MaxScaleAnnotationKey, "5"), nil, 5},
		{"HPA class ignores activation-scale", hpaRev(autoscaling.ActivationScaleKey, "2"), nil, 1},
	} {
		cfg := DefaultConfig()
		if tc.cfg != nil {
			tc.cfg(&cfg)
		}
		if got := InitialReplicas(tc.rev, cfg); got != tc.want {
			t.Errorf("%s: InitialReplicas = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// A revision without a class annotation has config-autoscaler's
// pod-autoscaler-class, as Knative's PodAutoscaler defaulting gives it, and
// everything the class decides follows: the trigger (and the class's default
// metric), the scale bounds, the initial scale, serve or proxy.
func TestClassDefault(t *testing.T) {
	hpaDefault := func(c *Config) { c.Autoscaler.PodAutoscalerClass = autoscaling.HPA }
	for _, tc := range []struct {
		name string
		ann  []string // annotations besides initial-scale 0
		cfg  func(*Config)
		// the trigger's type, minReplicaCount, initial replicas, MinReadyForServe
		trigger      string
		min, initial int32
		minReady     int
	}{
		{"stock: kpa", nil, nil, TriggerType, 0, 0, 3},
		{"config hpa", nil, hpaDefault, autoscaling.CPU, 1, 1, 1},
		{"config hpa, metric memory", []string{autoscaling.MetricAnnotationKey, autoscaling.Memory, autoscaling.TargetAnnotationKey, "100"}, hpaDefault, autoscaling.Memory, 1, 1, 1},
		{"config hpa, metric concurrency", []string{autoscaling.MetricAnnotationKey, autoscaling.Concurrency}, hpaDefault, TriggerType, 1, 1, 1},
		{"config hpa, annotation kpa", []string{autoscaling.ClassAnnotationKey, autoscaling.KPA}, hpaDefault, TriggerType, 0, 0, 3},
		{"config kpa, annotation hpa", []string{autoscaling.ClassAnnotationKey, autoscaling.HPA}, nil, autoscaling.CPU, 1, 1, 1},
		{"config empty: kpa", nil, func(c *Config) { c.Autoscaler.PodAutoscalerClass = "" }, TriggerType, 0, 0, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			rev := testRev(withAnnotations(append(tc.ann, autoscaling.InitialScaleAnnotationKey, "0")...))
			before := maps.Clone(rev.Annotations)
			so, err := MakeScaledObject(rev, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := so.Spec.Triggers[0].Type; got != tc.trigger {
				t.Errorf("trigger = %q, want %q", got, tc.trigger)
			}
			if got := *so.Spec.MinReplicaCount; got != tc.min {
				t.Errorf("minReplicaCount = %d, want %d", got, tc.min)
			}
			if got := InitialReplicas(rev, cfg); got != tc.initial {
				t.Errorf("InitialReplicas = %d, want %d", got, tc.initial)
			}
			if got := MinReadyForServe(rev, cfg); got != tc.minReady {
				t.Errorf("MinReadyForServe = %d, want %d", got, tc.minReady)
			}
			if !maps.Equal(rev.Annotations, before) {
				t.Errorf("the revision's annotations changed: %v, were %v", rev.Annotations, before)
			}
		})
	}
}
