package loadramp

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// PodSample is the revision's Deployment at one moment: the replicas KEDA
// (through the HPA) asks for, and those Ready.
type PodSample struct {
	At             time.Duration // offset from the load's start
	Desired, Ready int32
}

// samplePods reads the Deployment every interval until ctx ends and sends
// what it saw on the returned channel (once, when done). Failed reads are
// skipped: the report shows the gaps in the timeline.
func samplePods(ctx context.Context, kube kubernetes.Interface, namespace, deployment string, start time.Time, interval time.Duration) <-chan []PodSample {
	out := make(chan []PodSample, 1)
	go func() {
		var samples []PodSample
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			// A read of its own context: ctx ending must not lose the
			// samples so far. A loaded API server answers in seconds; a
			// slow read delays the next sample rather than failing.
			readCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			d, err := kube.AppsV1().Deployments(namespace).Get(readCtx, deployment, metav1.GetOptions{})
			cancel()
			if err == nil {
				desired := int32(0)
				if d.Spec.Replicas != nil {
					desired = *d.Spec.Replicas
				}
				samples = append(samples, PodSample{At: time.Since(start), Desired: desired, Ready: d.Status.ReadyReplicas})
			}
			select {
			case <-ctx.Done():
				out <- samples
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// changes are the samples where the counts differ from the one before:
// the timeline of scaling, short enough to print.
func changes(samples []PodSample) []PodSample {
	var out []PodSample
	for i, s := range samples {
		if i == 0 || s.Desired != samples[i-1].Desired || s.Ready != samples[i-1].Ready {
			out = append(out, s)
		}
	}
	return out
}

// maxReady is the most pods Ready in [from, to).
func maxReady(samples []PodSample, from, to time.Duration) (int32, bool) {
	var m int32
	seen := false
	for _, s := range samples {
		if s.At >= from && s.At < to {
			m, seen = max(m, s.Ready), true
		}
	}
	return m, seen
}
