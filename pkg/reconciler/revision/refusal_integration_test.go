//go:build integration

package revision_test

import (
	"context"
	"strings"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	v1 "knative.dev/serving/pkg/apis/serving/v1"

	"csclr.dev/csclr/internal/testenv"
	"csclr.dev/csclr/pkg/names"
	"csclr.dev/csclr/pkg/reconciler/revision"
)

// A ScaledObject the API server refuses (KEDA's webhook refuses some; here
// a ValidatingAdmissionPolicy does) fails the revision with the server's
// message, with one event however often the retries meet the refusal, and
// the revision deploys once the refusal is lifted.
func TestScaledObjectRefused(t *testing.T) {
	ns := newNamespace(t)
	var rev *v1.Revision
	t.Run("refused", func(t *testing.T) {
		testenv.Refuse(t, k8s, ns, "keda.sh", []string{"scaledobjects"}, admissionregistrationv1.Create)
		rev = newRevision(t, ns, "registry.example/hello:v1", nil)
		eventually(t, "FailedCreate", func() string {
			return condition(t, rev, v1.RevisionConditionReady, corev1.ConditionFalse, revision.ReasonFailedCreate)
		})
		if err := get(t, ns, rev.Name, rev); err != nil {
			t.Fatal(err)
		}
		msg := rev.Status.GetCondition(v1.RevisionConditionResourcesAvailable).Message
		for _, want := range []string{`Failed to create ScaledObject "` + names.ScaledObject(rev.Name) + `": `, "refused by the test's admission policy"} {
			if !strings.Contains(msg, want) {
				t.Errorf("ResourcesAvailable message %q, want it to contain %q", msg, want)
			}
		}
		// The retries (with back-off: about ten in three seconds) meet the
		// refusal again and again.
		time.Sleep(3 * time.Second)
		events, err := testenv.EventsAbout(context.Background(), k8s, rev)
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, e := range events {
			n := 1
			if e.Series != nil {
				n = int(e.Series.Count)
			}
			count[e.Reason] += n
		}
		// A retry may read the revision from the cache before the status
		// that records the refusal has reached it: then one more event.
		if count["CreationFailed"] < 1 || count["CreationFailed"] > 2 || count[revision.ReasonFailedCreate] < 1 || count[revision.ReasonFailedCreate] > 2 {
			t.Errorf("events: %d CreationFailed and %d %s (Ready turned False), want one each (two if a retry outran the cache)", count["CreationFailed"], count[revision.ReasonFailedCreate], revision.ReasonFailedCreate)
		}
	})
	// The subtest's end lifted the refusal.
	waitExists(t, ns, names.ScaledObject(rev.Name), &kedav1alpha1.ScaledObject{})
	eventually(t, "deploying again", func() string {
		return condition(t, rev, v1.RevisionConditionReady, corev1.ConditionUnknown, v1.ReasonDeploying)
	})
}
