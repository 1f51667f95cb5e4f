//go:build integration

package revision_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"knative.dev/serving/pkg/apis/autoscaling"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"csclr.dev/csclr/internal/testenv"
	"csclr.dev/csclr/pkg/names"
	"csclr.dev/csclr/pkg/reconciler/revision"
)

// The test plays KEDA (or the HPA): it sets the Deployment's spec.replicas,
// and the reconciler, woken by its watch of the Deployment, records the
// crossings of zero on the Revision, once each.
func TestScaleEvents(t *testing.T) {
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		replicas    []int32 // set one after the other, from the initial 1
		toZero      int     // ScaleToZero events wanted
		fromZero    int     // ScaleFromZero events wanted
	}{
		{name: "to zero and back", replicas: []int32{0, 2}, toZero: 1, fromZero: 1},
		{name: "never at zero", annotations: map[string]string{autoscaling.MinScaleAnnotationKey: "1"}, replicas: []int32{3, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNamespace(t)
			rev := newRevision(t, ns, "registry.example/hello:v1", tc.annotations)
			waitDesired(t, rev, 1)
			for _, n := range tc.replicas {
				drift(t, k8s, ns, names.Deployment(rev.Name), &appsv1.Deployment{}, func(o client.Object) {
					o.(*appsv1.Deployment).Spec.Replicas = ptr.To(n)
				})
				waitDesired(t, rev, n)
			}
			dep := &appsv1.Deployment{}
			dep.Namespace, dep.Name = ns, names.Deployment(rev.Name)
			testenv.WaitSettled(t, k8s, 2*time.Second, 30*time.Second, rev, dep)

			got, err := scaleEvents(rev)
			if err != nil {
				t.Fatal(err)
			}
			if got[revision.ReasonScaleToZero] != tc.toZero || got[revision.ReasonScaleFromZero] != tc.fromZero {
				t.Errorf("scale events %v, want %d %s and %d %s", got,
					tc.toZero, revision.ReasonScaleToZero, tc.fromZero, revision.ReasonScaleFromZero)
			}
		})
	}
}

// waitDesired waits until the revision's status shows n desired replicas.
func waitDesired(t *testing.T, rev *v1.Revision, n int32) {
	t.Helper()
	eventually(t, fmt.Sprintf("desiredReplicas %d", n), func() string {
		got := &v1.Revision{}
		if err := get(t, rev.Namespace, rev.Name, got); err != nil {
			return err.Error()
		}
		if d := got.Status.DesiredReplicas; d == nil || *d != n {
			return fmt.Sprintf("desiredReplicas %v", ptr.Deref(d, -1))
		}
		return ""
	})
}

// scaleEvents counts the occurrences of each scale event about rev, an
// event's repetitions (its series) included, and checks their notes.
func scaleEvents(rev *v1.Revision) (map[string]int, error) {
	list, err := testenv.EventsAbout(context.Background(), k8s, rev)
	if err != nil {
		return nil, err
	}
	want := map[string]string{
		revision.ReasonScaleToZero:   "Scaled to zero from 1 replica",
		revision.ReasonScaleFromZero: "Scaled from zero to 2 replicas",
	}
	count := map[string]int{}
	for _, e := range list {
		note, ok := want[e.Reason]
		if !ok {
			continue
		}
		if e.Type != corev1.EventTypeNormal || e.Note != note || e.ReportingController != revision.ControllerName {
			return nil, fmt.Errorf("event %s %s %q by %s, want Normal %q by %s", e.Type, e.Reason, e.Note, e.ReportingController, note, revision.ControllerName)
		}
		count[e.Reason]++
		if e.Series != nil {
			count[e.Reason] += int(e.Series.Count) - 1
		}
	}
	return count, nil
}
