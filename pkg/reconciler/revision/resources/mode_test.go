package resources

import (
	"testing"
	"time"

	"knative.dev/serving/pkg/apis/autoscaling"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
)

func TestMinReadyForServe(t *testing.T) {
	for _, tc := range []struct {
		name string
		rev  *v1.Revision
		want int
	}{
		{"stock: TBC 211 over 100 per pod", testRev(), 3},
		{"TBC -1 always proxies", testRev(withAnnotations(autoscaling.TargetBurstCapacityKey, "-1")), AlwaysProxy},
		{"TBC 0: activator only at zero", testRev(withAnnotations(autoscaling.TargetBurstCapacityKey, "0")), 1},
		{"containerConcurrency is the per-pod capacity", testRev(withCC(10), withAnnotations(autoscaling.TargetBurstCapacityKey, "25")), 3},
		{"target annotation is the per-pod capacity", testRev(withAnnotations(autoscaling.TargetAnnotationKey, "300")), 1},
		{"camelCase alias", testRev(withAnnotations("autoscaling.knative.dev/targetBurstCapacity", "-1")), AlwaysProxy},
		// Knative's HPA class is always in serve mode once a pod is ready.
		{"HPA class ignores TBC", hpaRev(), 1},
		{"HPA class ignores TBC -1", hpaRev(autoscaling.TargetBurstCapacityKey, "-1"), 1},
		{"HPA class on concurrency too", hpaRev(autoscaling.MetricAnnotationKey, "concurrency", autoscaling.TargetBurstCapacityKey, "500"), 1},
	} {
		if got := MinReadyForServe(tc.rev, DefaultConfig()); got != tc.want {
			t.Errorf("%s: MinReadyForServe = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestDecideMode(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	serve, proxy := ModeState{Mode: ModeServe}, ModeState{Mode: ModeProxy}
	short := func(ago time.Duration) ModeState { return ModeState{Mode: ModeServe, ShortSince: now.Add(-ago)} }
	for _, tc := range []struct {
		name            string
		ready, minReady int
		current         ModeState
		want            ModeState
		wantAfter       time.Duration
	}{
		{"at zero: proxy", 0, 1, proxy, proxy, 0},
		{"lost the last pod: proxy at once", 0, 3, serve, proxy, 0},
		{"lost the last pod during hold-down: proxy at once", 0, 3, short(time.Second), proxy, 0},
		{"TBC -1: proxy whatever is ready", 10, AlwaysProxy, serve, proxy, 0},
		{"enough ready: serve", 3, 3, proxy, serve, 0},
		{"more than enough while serving: stays, clears the clock", 5, 3, short(time.Second), serve, 0},
		{"short while proxying: stays proxy", 2, 3, proxy, proxy, 0},
		{"short while serving: hold-down starts", 2, 3, serve, short(0), ModeHoldDown},
		{"short while serving, hold-down running", 2, 3, short(4 * time.Second), short(4 * time.Second), ModeHoldDown - 4*time.Second},
		{"short while serving, hold-down over: proxy", 1, 3, short(ModeHoldDown), proxy, 0},
		{"clock in the future restarts the hold-down", 1, 3, short(-time.Minute), short(0), ModeHoldDown},
		{"unset current mode counts as proxy", 2, 3, ModeState{}, proxy, 0},
	} {
		got, after := DecideMode(tc.ready, tc.minReady, tc.current, now)
		if got.Mode != tc.want.Mode || !got.ShortSince.Equal(tc.want.ShortSince) || after != tc.wantAfter {
			t.Errorf("%s: DecideMode(%d, %d, %+v) = %+v, %v; want %+v, %v", tc.name, tc.ready, tc.minReady, tc.current, got, after, tc.want, tc.wantAfter)
		}
	}
}
