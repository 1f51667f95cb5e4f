package scaler

import (
	"math"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	spec := Spec{Metric: MetricConcurrency, Target: 10, StableWindow: 60 * time.Second, PanicWindowPct: 10, PanicThresholdPct: 200}
	t0 := time.Unix(1_000_000, 0)
	type step struct {
		at            time.Duration
		stable, panic float64
		ready         int
		want          decision
	}
	tests := []struct {
		name  string
		steps []step
	}{{
		name: "stable: ceil(load/target)",
		steps: []step{
			{stable: 25, panic: 25, ready: 3, want: decision{Desired: 3, Stable: 25, Panic: 25}},
		},
	}, {
		name: "no load scales to zero",
		steps: []step{
			{stable: 0, panic: 0, ready: 4, want: decision{Desired: 0}},
		},
	}, {
		name: "scale down is at most halving",
		steps: []step{
			{stable: 1, panic: 1, ready: 10, want: decision{Desired: 5, Stable: 1, Panic: 1}},
		},
	}, {
		name: "panic: burst over 200% of ready capacity; never shrinks while panicking; exits one stable window after",
		steps: []step{
			{at: 0, stable: 5, panic: 40, ready: 2, want: decision{Desired: 4, Stable: 5, Panic: 40, Panicking: true}},
			{at: 10 * time.Second, stable: 10, panic: 10, ready: 4, want: decision{Desired: 4, Stable: 10, Panic: 10, Panicking: true}},
			{at: 20 * time.Second, stable: 10, panic: 90, ready: 4, want: decision{Desired: 9, Stable: 10, Panic: 90, Panicking: true}},
			{at: 79 * time.Second, stable: 20, panic: 20, ready: 9, want: decision{Desired: 9, Stable: 20, Panic: 20, Panicking: true}},
			{at: 80 * time.Second, stable: 20, panic: 20, ready: 9, want: decision{Desired: 4, Stable: 20, Panic: 20}}, // halving at most: 9 → 4
		},
	}, {
		name: "just under the threshold stays stable",
		steps: []step{
			{stable: 10, panic: 39.9, ready: 2, want: decision{Desired: 1, Stable: 10, Panic: 39.9}},
		},
	}, {
		name: "from zero ready pods, threshold counts one pod",
		steps: []step{
			{stable: 1, panic: 20, ready: 0, want: decision{Desired: 2, Stable: 1, Panic: 20, Panicking: true}},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d decider
			for i, s := range tc.steps {
				if got := d.decide(t0.Add(s.at), spec, s.stable, s.panic, s.ready); got != s.want {
					t.Errorf("step %d: decide() = %+v, want %+v", i, got, s.want)
				}
			}
		})
	}
}

// TestMetricEncoding checks the contract with KEDA's HPA: after KEDA's milli
// truncation, ceil(value/target) is the desired pod count.
func TestMetricEncoding(t *testing.T) {
	milli := func(f float64) int64 { return int64(f * 1000) } // as KEDA's GenerateMetricInMili / GetMetricTargetMili
	for _, target := range []float64{0.01, 0.07, 0.1, 0.7, 1, 1.3333, 7, 10, 70, 99.99, 140, 1000, 123456.789} {
		tm := milli(metricTarget(target))
		if want := int64(math.Round(target * 1000)); want >= 10 && tm != want {
			t.Errorf("target %v: KEDA sees %d milli, want %d", target, tm, want)
		}
		for d := 0; d <= 2000; d++ {
			v := milli(metricValue(d, target))
			if got := int(math.Ceil(float64(v) / float64(tm))); got != d {
				t.Fatalf("target %v, desired %d: HPA would want %d (value %d milli, target %d milli)", target, d, got, v, tm)
			}
		}
	}
}
