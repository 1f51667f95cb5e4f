package revision

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
)

// Reasons of the events recorded when a revision's scale crosses zero.
const (
	ReasonScaleFromZero = "ScaleFromZero"
	ReasonScaleToZero   = "ScaleToZero"
)

// scaleTransition tells whether the revision's desired scale crossed zero
// between two statuses: before is status.desiredReplicas as last written,
// after as about to be written (both mirror the Deployment's spec.replicas,
// which KEDA or the HPA set). It is judged from that fact, not from requests:
// the scaler's view of activity is per activator replica, and a revision
// held at min-scale never reaches zero however idle it is. A nil before (a
// new revision, or a status never written) is no transition: nothing says
// where the scale came from. A crossing the reconciler never saw (0 → 1 → 0
// between two reconciles) is not recorded either.
func scaleTransition(before, after *int32) (reason, note string, ok bool) {
	if before == nil || after == nil {
		return "", "", false
	}
	switch b, a := *before, *after; {
	case b == 0 && a > 0:
		return ReasonScaleFromZero, "Scaled from zero to " + replicas(a), true
	case b > 0 && a == 0:
		return ReasonScaleToZero, "Scaled to zero from " + replicas(b), true
	}
	return "", "", false
}

func replicas(n int32) string {
	if n == 1 {
		return "1 replica"
	}
	return fmt.Sprintf("%d replicas", n)
}

// scaleEvent records the crossing of zero between orig and rev, the
// revision before the reconcile and as just written. It is called only once
// the status write that carries the new scale has succeeded: a failed write
// leaves the old scale in the status, and the retry sees the crossing again
// and records it then. A reconcile that reads the cache before it shows a
// successful write sees the old scale too, but its write, made on the old
// resource version, fails with a Conflict and records nothing. So each
// crossing is recorded once (at most once when the leader changes between
// the write and the event). A crossing reaches the reconciler through its
// watch of the Deployments it owns (setup.go).
func (r *Reconciler) scaleEvent(orig, rev *v1.Revision) {
	if reason, note, ok := scaleTransition(orig.Status.DesiredReplicas, rev.Status.DesiredReplicas); ok {
		r.event(rev, corev1.EventTypeNormal, reason, "%s", note)
	}
}
