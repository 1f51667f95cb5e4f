package resources

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/kmap"
	"knative.dev/pkg/kmeta"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
)

// AppLabelKey is the conventional "app" label Knative puts on revision pods.
const AppLabelKey = "app"

// makeLabels is the label set of every object a revision owns: the revision's
// own labels (which already carry configuration, configurationUID, service
// and serviceUID from the Configuration reconciler) plus the revision's name
// and UID. The Route's labels (route, routingState) stay on the Revision, as
// in Knative: they change whenever traffic moves, and in the pod template
// every change would roll the revision's pods.
func makeLabels(rev *v1.Revision) map[string]string {
	labels := kmap.ExcludeKeys(rev.Labels, serving.RouteLabelKey, serving.RoutingStateLabelKey)
	labels[serving.RevisionLabelKey] = rev.Name
	labels[serving.RevisionUID] = string(rev.UID)
	return labels
}

// makePodLabels adds "app: <revision>" unless the user set an app label.
func makePodLabels(rev *v1.Revision) map[string]string {
	labels := makeLabels(rev)
	if _, ok := labels[AppLabelKey]; !ok {
		labels[AppLabelKey] = rev.Name
	}
	return labels
}

// makeSelector selects a revision's pods by UID, so a revision deleted and
// recreated under the same name never adopts the old pods.
func makeSelector(rev *v1.Revision) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{serving.RevisionUID: string(rev.UID)}}
}

// makeAnnotations copies the revision's annotations minus the bookkeeping
// ones that only mean something on the Revision itself.
func makeAnnotations(rev *v1.Revision) map[string]string {
	out := kmap.ExcludeKeys(rev.Annotations,
		serving.RevisionLastPinnedAnnotationKey, serving.RoutingStateModifiedAnnotationKey,
		serving.RoutesAnnotationKey, corev1.LastAppliedConfigAnnotation)
	if len(out) == 0 {
		return nil
	}
	return out
}

// makeObjectMeta is the metadata of a revision's child named name.
func makeObjectMeta(rev *v1.Revision, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:            name,
		Namespace:       rev.Namespace,
		Labels:          makeLabels(rev),
		Annotations:     makeAnnotations(rev),
		OwnerReferences: []metav1.OwnerReference{*kmeta.NewControllerRef(rev)},
	}
}
