//go:build e2e

package e2e

import (
	"context"
	"slices"
	"testing"
	"time"
)

// fastScaleDown makes a revision go back to zero as soon as Knative allows:
// the shortest stable window, and no pod kept after the grace period.
// scaleToZeroGrace is config-autoscaler's scale-to-zero-grace-period in the
// e2e cluster (Knative's default).
const scaleToZeroGrace = 30 * time.Second

var fastScaleDown = map[string]string{
	"autoscaling.knative.dev/initial-scale": "0",
	"autoscaling.knative.dev/window":        "6s",
}

// A Service at zero answers its first request (the activator holds it while
// KEDA starts a pod), goes back to zero once idle, and answers again from
// zero; both transitions are recorded as events on the revision.
func TestServeFromZeroAndBack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	ns := createNamespace(t, ctx, "e2e-cold")
	host := applyKsvc(t, ctx, ns, ksvcSpec{name: "cold", image: testImage(t), annotations: fastScaleDown,
		env: map[string]string{"MESSAGE": "served from zero"}})
	const rev = "cold-00001"
	if spec, ready := replicas(t, ctx, ns, rev); spec != 0 || ready != 0 {
		t.Fatalf("initial-scale 0: the Deployment has %d replicas (%d ready), want 0", spec, ready)
	}

	c := newClient(t, ctx, host, 2*time.Minute)
	for round := 1; round <= 2; round++ {
		sent := time.Now()
		r := c.mustGet(t, ctx, "/", 200)
		if r.body != "served from zero\n" {
			t.Errorf("round %d: body %q, want %q", round, r.body, "served from zero\n")
		}
		if got := r.header.Get("X-Revision"); got != rev {
			t.Errorf("round %d: answered by %q, want %s", round, got, rev)
		}
		t.Logf("round %d: first request from zero answered in %s", round, r.duration.Round(time.Millisecond))
		waitReplicas(t, ctx, ns, rev, 10*time.Second, "scaled up", func(spec, _ int32) bool { return spec >= 1 })

		// Idle: the stable window (6 s), KEDA's poll (10 s) and cooldown
		// (the 30 s scale-to-zero grace) pass, then the pods go.
		start := time.Now()
		waitReplicas(t, ctx, ns, rev, 3*time.Minute, "back to zero", func(spec, ready int32) bool { return spec == 0 && ready == 0 })
		t.Logf("round %d: back to zero %s after the request", round, time.Since(start).Round(time.Second))
		// Not before the grace: KEDA's cooldown counts from the last time
		// the scaler said active, which the request itself made.
		if d := time.Since(sent); d < scaleToZeroGrace {
			t.Errorf("round %d: at zero %s after the request was sent, before the %s scale-to-zero grace", round, d.Round(time.Second), scaleToZeroGrace)
		}
	}

	events := revisionEvents(t, ctx, ns, rev)
	for _, want := range []string{"ScaleFromZero", "ScaleToZero"} {
		if !slices.Contains(events, want) {
			t.Errorf("no %s event on %s (events: %v)", want, rev, events)
		}
	}
}
