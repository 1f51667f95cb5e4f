package scaler

import (
	"math"
	"time"
)

// Knative's rate limits (config-autoscaler max-scale-up-rate and
// max-scale-down-rate): one decision never grows a revision more than
// 1000-fold nor shrinks it below half.
const (
	maxScaleUpRate   = 1000.0
	maxScaleDownRate = 2.0
)

// decision is the outcome of one evaluation of a revision's windows.
type decision struct {
	Desired   int     // pods Knative's KPA would want
	Stable    float64 // the stable-window average of the revision's total load
	Panic     float64 // the panic-window average
	Panicking bool
	// Held is set when Desired was raised to the ready pods because this
	// replica's window is partial (see partialLocked).
	Held bool
}

// decider keeps the state Knative's autoscaler carries between decisions:
// when panic mode started and the most pods it asked for while panicking.
type decider struct {
	panicSince   time.Time // zero when not panicking
	maxPanicPods int
}

// decide follows Knative's KPA (pkg/autoscaler/scaling/autoscaler.go): the
// stable average decides, except in panic mode, entered when the panic
// average reaches threshold % of what the ready pods can take and left one
// stable window after it last did; while panicking the revision never
// shrinks.
func (d *decider) decide(now time.Time, s Spec, stable, panic float64, readyPods int) decision {
	ready := math.Max(1, float64(readyPods))
	maxUp := int(math.Ceil(maxScaleUpRate * ready))
	maxDown := int(math.Floor(ready / maxScaleDownRate))
	clamp := func(n int) int { return min(max(n, maxDown), maxUp) }

	stablePods := clamp(int(math.Ceil(stable / s.Target)))
	panicPods := clamp(int(math.Ceil(panic / s.Target)))

	over := panic/s.Target/ready >= s.PanicThresholdPct/100
	switch {
	case over:
		d.panicSince = now // enter, or extend
	case !d.panicSince.IsZero() && !now.Before(d.panicSince.Add(s.StableWindow)):
		d.panicSince, d.maxPanicPods = time.Time{}, 0
	}

	out := decision{Desired: stablePods, Stable: stable, Panic: panic}
	if !d.panicSince.IsZero() {
		out.Panicking = true
		d.maxPanicPods = max(d.maxPanicPods, panicPods)
		out.Desired = d.maxPanicPods
	}
	if stable == 0 && panic == 0 && !out.Panicking {
		out.Desired = 0 // no load in a whole stable window: Knative scales to zero
	}
	return out
}

// The maths of what KEDA's HPA sees.
//
// KEDA gives the HPA an External metric with an AverageValue target. The HPA
// then wants ceil(value / target) pods (unless value/(target×current) is
// within its tolerance, 10 % by default, of 1). KEDA turns both floats into
// milli-quantities by truncation (int64(x*1000)), so a plain value of
// desired×target can land a milli above a multiple of the target and ask for
// one pod more. So:
//   - the target sent is k/1000 + 0.00025, where k = round(target×1000): it
//     truncates to exactly k milli;
//   - the value sent for d desired pods is ((d - ½)·k + ¼)/1000: it truncates
//     to floor((d-½)·k + ¼) milli, strictly between (d-1)·k and d·k for any
//     k ≥ 2 (every valid target is ≥ 10 milli), so ceil(value/target) = d.
// The HPA's tolerance remains: a change by less than 10 % of the current
// size is not acted on unless the HPA's behavior sets tolerance 0.

// metricTarget is the TargetSizeFloat to give KEDA for a per-pod target.
func metricTarget(target float64) float64 {
	return (float64(targetMilli(target)) + 0.25) / 1000
}

// metricValue is the MetricValueFloat that makes the HPA want desired pods.
func metricValue(desired int, target float64) float64 {
	if desired <= 0 {
		return 0
	}
	k := float64(targetMilli(target))
	return ((float64(desired)-0.5)*k + 0.25) / 1000
}

func targetMilli(target float64) int64 {
	return max(int64(math.Round(target*1000)), 10)
}
