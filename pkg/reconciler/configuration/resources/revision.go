// Package resources holds the pure decisions of the Configuration
// reconciler: the Revision a Configuration stamps out, whether a BYO revision
// name is free, and which revisions garbage collection may delete.
package resources

import (
	"fmt"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/kmeta"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"

	"csclr.dev/csclr/pkg/names"
)

// RevisionName is the name of the Revision for the Configuration's current
// generation: the template's BYO name, or a generated one.
func RevisionName(config *v1.Configuration) string {
	if n := config.Spec.GetTemplate().Name; n != "" {
		return n
	}
	return names.Revision(config.Name, config.Generation)
}

// MakeRevision builds the Revision for the Configuration's current
// generation. Only the template's metadata is used: the Configuration's own
// labels and annotations are never copied onto Revisions.
func MakeRevision(config *v1.Configuration, now time.Time) *v1.Revision {
	tmpl := config.Spec.GetTemplate()
	rev := &v1.Revision{
		ObjectMeta: *tmpl.ObjectMeta.DeepCopy(),
		Spec:       *tmpl.Spec.DeepCopy(),
	}
	rev.Name = RevisionName(config)
	rev.Namespace = config.Namespace
	rev.GenerateName = ""

	if rev.Labels == nil {
		rev.Labels = map[string]string{}
	}
	for _, key := range []string{
		serving.ConfigurationLabelKey,
		serving.ServiceLabelKey,
		serving.ConfigurationGenerationLabelKey,
		serving.ConfigurationUIDLabelKey,
		serving.ServiceUIDLabelKey,
	} {
		if v := LabelValue(key, config); v != "" {
			rev.Labels[key] = v
		}
	}

	if rev.Annotations == nil {
		rev.Annotations = map[string]string{}
	}
	// The revision's creator is whoever last changed the Configuration.
	if who, ok := config.Annotations[serving.UpdaterAnnotation]; ok {
		rev.Annotations[serving.CreatorAnnotation] = who
	}
	// A Configuration already referenced by a Route makes its new Revision
	// routable at once; otherwise it waits in "pending" for a Route.
	state := v1.RoutingStatePending
	if routes, ok := config.Annotations[serving.RoutesAnnotationKey]; ok {
		rev.Annotations[serving.RoutesAnnotationKey] = routes
		state = v1.RoutingStateActive
	}
	rev.SetRoutingState(state, now)

	rev.OwnerReferences = append(rev.OwnerReferences, *kmeta.NewControllerRef(config))
	return rev
}

// LabelValue is the value the Configuration gives the label key on its
// Revisions ("" when it sets none).
func LabelValue(key string, config *v1.Configuration) string {
	switch key {
	case serving.ConfigurationLabelKey:
		return config.Name
	case serving.ServiceLabelKey:
		return config.Labels[serving.ServiceLabelKey]
	case serving.ConfigurationGenerationLabelKey:
		return strconv.FormatInt(config.Generation, 10)
	case serving.ConfigurationUIDLabelKey:
		return string(config.UID)
	case serving.ServiceUIDLabelKey:
		return config.Labels[serving.ServiceUIDLabelKey]
	}
	return ""
}

// Generation is the configuration generation a Revision was stamped from.
func Generation(rev *v1.Revision) (int64, error) {
	return strconv.ParseInt(rev.Labels[serving.ConfigurationGenerationLabelKey], 10, 64)
}

// CheckNameAvailability decides whether existing, the Revision found under the
// template's BYO name, may serve as the Configuration's current revision. It
// may when the Configuration controls it and it was stamped from this
// generation or has the same spec; otherwise the name is taken and the error
// is an AlreadyExists error naming the revision.
func CheckNameAvailability(config *v1.Configuration, existing *v1.Revision) error {
	name := config.Spec.GetTemplate().Name
	taken := apierrors.NewAlreadyExists(v1.Resource("revisions"), name)
	if !metav1.IsControlledBy(existing, config) {
		return taken
	}
	if existing.Labels[serving.ConfigurationGenerationLabelKey] == LabelValue(serving.ConfigurationGenerationLabelKey, config) {
		return nil
	}
	if !equality.Semantic.DeepEqual(config.Spec.GetTemplate().Spec, existing.Spec) {
		return fmt.Errorf("revision %s/%s already exists with a different spec: change spec.template.metadata.name together with the template: %w",
			existing.Namespace, name, taken)
	}
	return nil
}
