package resources

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func config(mods ...func(*v1.Configuration)) *v1.Configuration {
	c := &v1.Configuration{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "ns", Name: "hello", Generation: 3, UID: "cfg-uid",
			Labels:      map[string]string{serving.ServiceLabelKey: "hello", serving.ServiceUIDLabelKey: "svc-uid", "team": "a"},
			Annotations: map[string]string{serving.UpdaterAnnotation: "bob", "note": "config-only"},
		},
		Spec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"tmpl": "x"}, Annotations: map[string]string{"autoscaling.knative.dev/min-scale": "1"}},
			Spec:       v1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "img"}}}},
		}},
	}
	for _, m := range mods {
		m(c)
	}
	return c
}

func controllerRef() metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion: "serving.knative.dev/v1", Kind: "Configuration", Name: "hello", UID: "cfg-uid",
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	}
}

func TestMakeRevision(t *testing.T) {
	stamp := now.UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		name   string
		config *v1.Configuration
		want   *v1.Revision
	}{{
		name:   "generated name, pending without routes",
		config: config(),
		want: &v1.Revision{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: "ns", Name: "hello-00003",
				Labels: map[string]string{
					"tmpl":                                  "x",
					serving.ConfigurationLabelKey:           "hello",
					serving.ConfigurationGenerationLabelKey: "3",
					serving.ConfigurationUIDLabelKey:        "cfg-uid",
					serving.ServiceLabelKey:                 "hello",
					serving.ServiceUIDLabelKey:              "svc-uid",
					serving.RoutingStateLabelKey:            "pending",
				},
				Annotations: map[string]string{
					"autoscaling.knative.dev/min-scale":       "1",
					serving.CreatorAnnotation:                 "bob",
					serving.RoutingStateModifiedAnnotationKey: stamp,
				},
				OwnerReferences: []metav1.OwnerReference{controllerRef()},
			},
			Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "img"}}}},
		},
	}, {
		name: "BYO name, routed configuration becomes active",
		config: config(func(c *v1.Configuration) {
			c.Spec.Template.Name = "hello-blue"
			c.Labels = nil
			c.Annotations = map[string]string{serving.RoutesAnnotationKey: "hello"}
		}),
		want: &v1.Revision{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: "ns", Name: "hello-blue",
				Labels: map[string]string{
					"tmpl":                                  "x",
					serving.ConfigurationLabelKey:           "hello",
					serving.ConfigurationGenerationLabelKey: "3",
					serving.ConfigurationUIDLabelKey:        "cfg-uid",
					serving.RoutingStateLabelKey:            "active",
				},
				Annotations: map[string]string{
					"autoscaling.knative.dev/min-scale":       "1",
					serving.RoutesAnnotationKey:               "hello",
					serving.RoutingStateModifiedAnnotationKey: stamp,
				},
				OwnerReferences: []metav1.OwnerReference{controllerRef()},
			},
			Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "img"}}}},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := MakeRevision(tc.config, now)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("MakeRevision (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMakeRevisionDoesNotAliasTemplate(t *testing.T) {
	c := config()
	rev := MakeRevision(c, now)
	rev.Labels["x"] = "y"
	if _, ok := c.Spec.Template.Labels["x"]; ok {
		t.Error("MakeRevision shares the template's label map")
	}
}

func TestCheckNameAvailability(t *testing.T) {
	byo := config(func(c *v1.Configuration) { c.Spec.Template.Name = "hello-blue" })
	rev := MakeRevision(byo, now)
	for _, tc := range []struct {
		name      string
		existing  func() *v1.Revision
		wantTaken bool
	}{{
		name:     "same generation",
		existing: func() *v1.Revision { return rev.DeepCopy() },
	}, {
		name: "older generation, same spec",
		existing: func() *v1.Revision {
			r := rev.DeepCopy()
			r.Labels[serving.ConfigurationGenerationLabelKey] = "1"
			return r
		},
	}, {
		name: "older generation, changed spec",
		existing: func() *v1.Revision {
			r := rev.DeepCopy()
			r.Labels[serving.ConfigurationGenerationLabelKey] = "1"
			r.Spec.Containers[0].Image = "other"
			return r
		},
		wantTaken: true,
	}, {
		name: "owned by someone else",
		existing: func() *v1.Revision {
			r := rev.DeepCopy()
			r.OwnerReferences[0].UID = "other"
			return r
		},
		wantTaken: true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckNameAvailability(byo, tc.existing())
			if got := apierrors.IsAlreadyExists(err); got != tc.wantTaken {
				t.Errorf("CheckNameAvailability() = %v, want taken=%v", err, tc.wantTaken)
			}
		})
	}
}
