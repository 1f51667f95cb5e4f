package podwatch

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func pod(name, rev string, ready bool) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{RevisionLabel: rev}},
		Status:     corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}},
	}
}

func TestPodWatchRecordsFirstPodOfEachRevision(t *testing.T) {
	w := New()
	clock := time.Unix(1000, 0)
	w.now = func() time.Time { clock = clock.Add(time.Second); return clock }

	w.observe(pod("a-1", "a-00001", false)) // created at 1001
	w.observe(pod("a-2", "a-00001", true))  // a second pod: ignored
	w.observe(pod("a-1", "a-00001", true))  // ready at 1003
	w.observe(pod("a-1", "a-00001", true))  // again: the first time stays
	w.observe(pod("x", "", true))           // no revision: ignored
	w.observe(&corev1.Service{})            // not a pod: ignored
	w.observe(pod("b-1", "b-00001", true))  // created and ready at once

	a, _ := w.Get("a-00001")
	if a.Pod != "a-1" || a.Created != time.Unix(1001, 0) || a.Ready != time.Unix(1003, 0) {
		t.Errorf("a: %+v", a)
	}
	b, _ := w.Get("b-00001")
	if b.Created.IsZero() || b.Created != b.Ready {
		t.Errorf("b: %+v, want created and ready at the same watch event", b)
	}
	if got := w.WaitReady("none", time.Now().Add(10*time.Millisecond)); !got.Created.IsZero() {
		t.Errorf("unknown revision: %+v", got)
	}
}

func TestPodWatchWaitReadyWakesOnChange(t *testing.T) {
	w := New()
	w.observe(pod("a-1", "a-00001", false))
	go func() {
		time.Sleep(20 * time.Millisecond)
		w.observe(pod("a-1", "a-00001", true))
	}()
	if got := w.WaitReady("a-00001", time.Now().Add(5*time.Second)); got.Ready.IsZero() {
		t.Errorf("waitReady returned %+v before Ready", got)
	}
}
