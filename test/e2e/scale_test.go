//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Sustained load makes KEDA scale a revision from one pod to several (the
// scaler reports the concurrency the activators and queue sidecars see);
// when the load drops it scales back down. No request fails meanwhile,
// including while the surplus pods are taken out of the endpoints and
// drained under the lighter load that remains.
func TestScaleOutUnderLoadAndBack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	ns := createNamespace(t, ctx, "e2e-scale")
	const rev = "busy-00001"
	host := applyKsvc(t, ctx, ns, ksvcSpec{name: "busy", image: testImage(t), annotations: map[string]string{
		"autoscaling.knative.dev/target":    "2",
		"autoscaling.knative.dev/window":    "6s",
		"autoscaling.knative.dev/max-scale": "4",
	}})

	// 12 requests in flight against 2 per pod (70 % of it as the target):
	// KEDA should want the maximum, 4.
	l := startLoad(ctx, newClient(t, ctx, host, time.Minute), 12, "/?sleep=200ms", 4*time.Minute)
	start := time.Now()
	waitReplicas(t, ctx, ns, rev, 3*time.Minute, "scale out under load", func(_, ready int32) bool { return ready >= 3 })
	t.Logf("3 pods ready %s into the load", time.Since(start).Round(time.Second))
	time.Sleep(5 * time.Second) // served by the new pods too
	l.stop()
	t.Logf("load: %s", l)
	if l.failed() > 0 {
		t.Errorf("%d requests failed while scaling out", l.failed())
	}

	// One request at a time keeps one pod busy; the others go.
	light := startLoad(ctx, newClient(t, ctx, host, time.Minute), 1, "/?sleep=50ms", 4*time.Minute)
	start = time.Now()
	waitReplicas(t, ctx, ns, rev, 3*time.Minute, "scale back under a light load", func(spec, _ int32) bool { return spec <= 1 })
	waitPodsGone(t, ctx, ns, rev, 1, 2*time.Minute)
	t.Logf("back to one pod %s after the load dropped", time.Since(start).Round(time.Second))
	light.stop()
	t.Logf("light load: %s", light)
	if light.failed() > 0 {
		t.Errorf("%d requests failed while pods were removed", light.failed())
	}
}

// A new image (the test app under a second tag, with a new MESSAGE to tell
// the answers apart) rolled out under constant load: every request
// succeeds, the traffic moves to the new revision, and the old revision's
// pods go away (scaled to zero, endpoints updated, drained) while the load
// goes on.
func TestImageUpdateUnderLoad(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	ns := createNamespace(t, ctx, "e2e-rollout")
	window := map[string]string{"autoscaling.knative.dev/window": "6s"}
	spec := ksvcSpec{name: "rolling", image: testImage(t), env: map[string]string{"MESSAGE": "v1"}, annotations: window}
	host := applyKsvc(t, ctx, ns, spec)

	l := startLoad(ctx, newClient(t, ctx, host, time.Minute), 4, "/", 4*time.Minute)
	time.Sleep(3 * time.Second)
	spec.image = tagImage(t, ctx, spec.image, "rollout-v2")
	spec.env = map[string]string{"MESSAGE": "v2"}
	applyKsvc(t, ctx, ns, spec)
	eventually(t, ctx, "answers from v2", func() error {
		if l.count("v2") < 100 {
			return errNotYet
		}
		return nil
	})
	start := time.Now()
	waitPodsGone(t, ctx, ns, "rolling-00001", 0, 3*time.Minute)
	t.Logf("the old revision's pods gone %s after 100 answers from v2", time.Since(start).Round(time.Second))
	time.Sleep(3 * time.Second)
	l.stop()
	t.Logf("load: %s", l)
	if l.failed() > 0 {
		t.Errorf("%d requests failed during the rollout", l.failed())
	}
}

// tagImage tags image (in the local registry) as tag and
// returns the tagged reference, which the controller leaves unresolved
// (the local registry is among the registries skipping tag resolution).
func tagImage(t *testing.T, ctx context.Context, image, tag string) string {
	t.Helper()
	ref, err := name.ParseReference(image)
	if err != nil {
		t.Fatalf("parsing %s: %v", image, err)
	}
	desc, err := remote.Get(ref, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("reading %s: %v", image, err)
	}
	tagged := ref.Context().Tag(tag)
	if err := remote.Tag(tagged, desc, remote.WithContext(ctx)); err != nil {
		t.Fatalf("tagging %s as %s: %v", image, tagged, err)
	}
	return tagged.String()
}

// waitPodsGone waits until at most max pods of the revision exist,
// terminating ones included.
func waitPodsGone(t *testing.T, ctx context.Context, ns, revision string, max int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		pods, err := cluster.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "serving.knative.dev/revision=" + revision})
		if err != nil {
			t.Fatalf("pods of %s: %v", revision, err)
		}
		if len(pods.Items) <= max {
			return
		}
		if time.Now().After(deadline) {
			dumpPods(t, ns)
			t.Fatalf("%s still has %d pods after %s, want at most %d", revision, len(pods.Items), limit, max)
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// Deleting an activator pod (gracefully, as a rolling update or a node
// drain does) under load loses no request: the pod keeps serving until the
// endpoints drop it, then drains. Afterwards a Service at zero (created
// before, so KEDA's stream for it may have been on the deleted pod) is
// still woken by its first request at once, not by KEDA's next poll.
func TestActivatorDeletionUnderLoad(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	ns := createNamespace(t, ctx, "e2e-activator")
	// target-burst-capacity -1 keeps the activator in the path at all times.
	host := applyKsvc(t, ctx, ns, ksvcSpec{name: "proxied", image: testImage(t), annotations: map[string]string{
		"autoscaling.knative.dev/target-burst-capacity": "-1",
		"autoscaling.knative.dev/min-scale":             "1",
	}})
	sleeperHost := applyKsvc(t, ctx, ns, ksvcSpec{name: "sleeper", image: testImage(t), annotations: fastScaleDown})

	l := startLoad(ctx, newClient(t, ctx, host, time.Minute), 8, "/?sleep=20ms", 3*time.Minute)
	time.Sleep(3 * time.Second)
	pods, err := cluster.kube.CoreV1().Pods("csclr-system").List(ctx, metav1.ListOptions{LabelSelector: "app=csclr-activator"})
	if err != nil || len(pods.Items) < 2 {
		t.Fatalf("activator pods: %v (%d)", err, len(pods.Items))
	}
	victim := pods.Items[0].Name
	start := time.Now()
	if err := cluster.kube.CoreV1().Pods("csclr-system").Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "activator "+victim+" gone", func() error {
		_, err := cluster.kube.CoreV1().Pods("csclr-system").Get(ctx, victim, metav1.GetOptions{})
		if err == nil {
			return errNotYet
		}
		return nil
	})
	t.Logf("activator %s gone %s after its deletion", victim, time.Since(start).Round(time.Second))
	waitActivatorsReady(t, ctx, len(pods.Items))
	time.Sleep(3 * time.Second)
	l.stop()
	t.Logf("load: %s", l)
	if l.failed() > 0 {
		t.Errorf("%d requests failed while an activator went away", l.failed())
	}

	// KEDA polls IsActive every 10 s (resources.PollingIntervalSeconds);
	// the pushed signal scales within a fraction of a second.
	const sleeper = "sleeper-00001"
	if spec, _ := replicas(t, ctx, ns, sleeper); spec != 0 {
		t.Fatalf("%s has %d replicas before its first request, want 0", sleeper, spec)
	}
	type answer struct {
		r   response
		err error
	}
	answered := make(chan answer, 1) // buffered: the sender never waits for a failed test
	c := newClient(t, ctx, sleeperHost, 2*time.Minute)
	sent := time.Now()
	go func() {
		r, err := c.get(ctx, "/")
		answered <- answer{r, err}
	}()
	waitReplicas(t, ctx, ns, sleeper, 5*time.Second, "scaled from zero by the pushed signal", func(spec, _ int32) bool { return spec >= 1 })
	t.Logf("%s scaled from zero %s after its first request", sleeper, time.Since(sent).Round(10*time.Millisecond))
	if a := <-answered; a.err != nil || a.r.status != http.StatusOK {
		t.Errorf("first request to %s: status %d, error %v; want 200", sleeper, a.r.status, a.err)
	}
}

func waitActivatorsReady(t *testing.T, ctx context.Context, want int) {
	t.Helper()
	eventually(t, ctx, "activators ready again", func() error {
		d, err := cluster.kube.AppsV1().Deployments("csclr-system").Get(ctx, "csclr-activator", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if int(d.Status.ReadyReplicas) < want || d.Status.Replicas != d.Status.ReadyReplicas {
			return errNotYet
		}
		return nil
	})
}
