package revision

import (
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

func TestScaledObjectChanged(t *testing.T) {
	base := func() *kedav1alpha1.ScaledObject {
		return &kedav1alpha1.ScaledObject{
			ObjectMeta: metav1.ObjectMeta{Name: "hello-00001", Generation: 1, Labels: map[string]string{"a": "b"}},
			Status: kedav1alpha1.ScaledObjectStatus{Conditions: kedav1alpha1.Conditions{
				{Type: kedav1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "ScaledObjectReady", Message: "ready"},
				{Type: kedav1alpha1.ConditionActive, Status: metav1.ConditionFalse, Reason: "ScalerNotActive"},
				{Type: kedav1alpha1.ConditionFallback, Status: metav1.ConditionUnknown},
			}},
		}
	}
	now := metav1.Now()
	for _, tc := range []struct {
		name   string
		change func(*kedav1alpha1.ScaledObject)
		want   bool
	}{
		{"nothing", func(*kedav1alpha1.ScaledObject) {}, false},
		{"Active turns True", func(so *kedav1alpha1.ScaledObject) { so.Status.Conditions[1].Status = metav1.ConditionTrue }, false},
		{"Fallback settles", func(so *kedav1alpha1.ScaledObject) { so.Status.Conditions[2].Status = metav1.ConditionFalse }, false},
		{"trigger activity", func(so *kedav1alpha1.ScaledObject) {
			so.Status.TriggersActivity = map[string]kedav1alpha1.TriggerActivityStatus{"s0": {IsActive: true}}
		}, false},
		{"resource version only", func(so *kedav1alpha1.ScaledObject) { so.ResourceVersion = "2" }, false},
		{"Ready turns False", func(so *kedav1alpha1.ScaledObject) { so.Status.Conditions[0].Status = metav1.ConditionFalse }, true},
		{"Ready's message", func(so *kedav1alpha1.ScaledObject) { so.Status.Conditions[0].Message = "other" }, true},
		{"spec (generation)", func(so *kedav1alpha1.ScaledObject) { so.Generation = 2 }, true},
		{"a label", func(so *kedav1alpha1.ScaledObject) { so.Labels["a"] = "c" }, true},
		{"an annotation", func(so *kedav1alpha1.ScaledObject) { so.Annotations = map[string]string{"x": "y"} }, true},
		{"owner", func(so *kedav1alpha1.ScaledObject) { so.OwnerReferences = []metav1.OwnerReference{{Name: "x"}} }, true},
		{"deletion", func(so *kedav1alpha1.ScaledObject) { so.DeletionTimestamp = &now }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			after := base()
			tc.change(after)
			if got := scaledObjectChanged.Update(event.UpdateEvent{ObjectOld: base(), ObjectNew: after}); got != tc.want {
				t.Errorf("passes = %v, want %v", got, tc.want)
			}
		})
	}
}
