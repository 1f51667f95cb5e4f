package scaler

import (
	"math"
	"testing"
	"time"

	"csclr.dev/csclr/pkg/stats"
)

func TestLoad(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	prev := &sample{start: 100, requests: 50, concSec: 20, at: t0}
	tests := []struct {
		name   string
		prev   *sample
		rep    stats.Report
		now    time.Time
		metric string
		want   float64
	}{
		{name: "first sight: in-flight", rep: stats.Report{StartUnix: 100, InFlight: 3, Requests: 999, ConcurrencySeconds: 999}, now: t0, metric: MetricConcurrency, want: 3},
		{name: "first sight rps: unknown, zero", rep: stats.Report{StartUnix: 100, Requests: 999}, now: t0, metric: MetricRPS, want: 0},
		{name: "concurrency delta", prev: prev, rep: stats.Report{StartUnix: 100, Requests: 60, ConcurrencySeconds: 26}, now: t0.Add(2 * time.Second), metric: MetricConcurrency, want: 3},
		{name: "rps delta", prev: prev, rep: stats.Report{StartUnix: 100, Requests: 60, ConcurrencySeconds: 26}, now: t0.Add(2 * time.Second), metric: MetricRPS, want: 5},
		{name: "restart (new start time) counts from zero at its start", prev: prev, rep: stats.Report{StartUnix: t0.Unix() + 1, Requests: 4, ConcurrencySeconds: 1}, now: t0.Add(2 * time.Second), metric: MetricRPS, want: 4},
		{name: "restart with counters going backwards and an old start", prev: prev, rep: stats.Report{StartUnix: 100, Requests: 10, ConcurrencySeconds: 2}, now: t0.Add(2 * time.Second), metric: MetricConcurrency, want: 1},
		{name: "no time passed: in-flight", prev: prev, rep: stats.Report{StartUnix: 100, InFlight: 7, Requests: 60}, now: t0, metric: MetricConcurrency, want: 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, next := load(tc.prev, tc.rep, tc.now, tc.metric)
			if math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("load() = %v, want %v", got, tc.want)
			}
			if want := (sample{start: tc.rep.StartUnix, requests: tc.rep.Requests, concSec: tc.rep.ConcurrencySeconds, at: tc.now}); next != want {
				t.Errorf("next sample = %+v, want %+v", next, want)
			}
		})
	}
}
