package controlplane

import (
	"context"
	"csclr.dev/csclr/pkg/bench/benchns"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// BenchLabel marks what this benchmark creates, so a leftover namespace is
// recognisable (kubectl get ns -l csclr.dev/bench).
const BenchLabel = benchns.Label

// serviceNames are the Services of a run, in creation order.
func serviceNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("cp-%05d", i+1)
	}
	return names
}

// makeService builds one benchmark Service: initial-scale 0, so that the
// revision becomes Ready without a pod and the run measures the control
// plane alone.
func makeService(namespace, name, image string) *servingv1.Service {
	return &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{BenchLabel: "control-plane"}},
		Spec: servingv1.ServiceSpec{
			ConfigurationSpec: servingv1.ConfigurationSpec{
				Template: servingv1.RevisionTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"autoscaling.knative.dev/initial-scale": "0"}},
					Spec: servingv1.RevisionSpec{
						PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: image}}},
					},
				},
			},
		},
	}
}

// createAll creates the Services with o.Parallel workers, at most o.Rate per
// second when set, and stops early when ctx ends (the creation deadline).
// Failed creates are recorded, not retried: a retry would hide the latency.
func createAll(ctx context.Context, c client.Client, tr *tracker, o Options) {
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range max(1, o.Parallel) {
		wg.Go(func() {
			for i := range jobs {
				name := tr.timings[i].Name // names never change after newTracker
				tr.createStarted(i)
				tr.createDone(i, c.Create(ctx, makeService(o.Namespace, name, o.Image)))
			}
		})
	}
	feed(ctx, jobs, len(tr.timings), o.Rate)
	close(jobs)
	wg.Wait()
}

// feed hands out indexes 0..n-1, paced at rate per second if rate > 0.
func feed(ctx context.Context, jobs chan<- int, n int, rate float64) {
	var tick <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer t.Stop()
		tick = t.C
	}
	for i := range n {
		if tick != nil && i > 0 {
			select {
			case <-tick:
			case <-ctx.Done():
				return
			}
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
			return
		}
	}
}
