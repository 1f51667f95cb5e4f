package controlplane

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

func svc(name string, gen, observed int64, ready corev1.ConditionStatus) *servingv1.Service {
	s := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Generation: gen}}
	s.Status.ObservedGeneration = observed
	s.Status.Conditions = duckv1.Conditions{{Type: apis.ConditionReady, Status: ready, Reason: "R"}}
	return s
}

func TestTrackerFirstReadyOfLatestGeneration(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr := newTracker(serviceNames(2))
	tr.now = func() time.Time { return clock }
	for i := range 2 {
		tr.createStarted(i)
		tr.createDone(i, nil)
	}
	tr.creationEnded()

	clock = clock.Add(time.Second)
	tr.observe(svc("cp-00001", 2, 1, corev1.ConditionTrue)) // an older generation's Ready does not count
	tr.observe(svc("not-ours", 1, 1, corev1.ConditionTrue))
	tr.observe(svc("cp-00002", 1, 1, corev1.ConditionUnknown))
	if _, ready, _ := tr.counts(); ready != 0 {
		t.Fatalf("ready = %d, want 0", ready)
	}
	clock = clock.Add(time.Second)
	tr.observe(svc("cp-00001", 2, 2, corev1.ConditionTrue))
	clock = clock.Add(time.Second)
	tr.observe(svc("cp-00001", 2, 2, corev1.ConditionTrue)) // a repeat keeps the first time
	tr.observe(svc("cp-00002", 1, 1, corev1.ConditionTrue))

	select {
	case <-tr.allReady:
	default:
		t.Fatal("allReady not closed with both Services Ready")
	}
	got, _ := tr.snapshot()
	if d, _ := got[0].ToReady(); d != 2*time.Second {
		t.Errorf("cp-00001 create→Ready = %s, want 2s", d)
	}
	if d, _ := got[1].ToReady(); d != 3*time.Second {
		t.Errorf("cp-00002 create→Ready = %s, want 3s", d)
	}
}
