package revision

import (
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// scaledObjectChanged passes the updates of a ScaledObject that the
// revision reconciler reads: its spec (generation), labels, annotations,
// owners, deletion and the Ready condition (status.go's
// scaledObjectProblem). KEDA's operator rewrites the rest of the status
// (Active, Fallback, HPAActive, triggersActivity) on its own schedule, for
// every ScaledObject: with a thousand idle revisions that was about ten
// reconciles a second that could change nothing.
var scaledObjectChanged = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	before, ok1 := e.ObjectOld.(*kedav1alpha1.ScaledObject)
	after, ok2 := e.ObjectNew.(*kedav1alpha1.ScaledObject)
	if !ok1 || !ok2 {
		return true
	}
	return before.Generation != after.Generation ||
		!equality.Semantic.DeepEqual(before.Labels, after.Labels) ||
		!equality.Semantic.DeepEqual(before.Annotations, after.Annotations) ||
		!equality.Semantic.DeepEqual(before.OwnerReferences, after.OwnerReferences) ||
		!before.DeletionTimestamp.Equal(after.DeletionTimestamp) ||
		readyOf(before) != readyOf(after)
}}

// readyOf is the part of the Ready condition the revision's status shows.
func readyOf(so *kedav1alpha1.ScaledObject) [3]string {
	c := so.Status.Conditions.GetReadyCondition()
	return [3]string{string(c.Status), c.Reason, c.Message}
}
