package resources

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"

	"csclr.dev/csclr/pkg/names"
)

func service() *v1.Service {
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "ns", Name: "hello", UID: "svc-uid",
			Labels: map[string]string{"team": "a"},
			Annotations: map[string]string{
				corev1.LastAppliedConfigAnnotation:     "{}",
				"serving.knative.dev/rollout-duration": "60s",
				serving.CreatorAnnotation:              "alice",
				"note":                                 "n",
			},
		},
		Spec: v1.ServiceSpec{
			ConfigurationSpec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
				Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "img"}}}},
			}},
			RouteSpec: v1.RouteSpec{Traffic: []v1.TrafficTarget{
				{LatestRevision: ptr.To(true), Percent: ptr.To[int64](90)},
				{RevisionName: "hello-00001", LatestRevision: ptr.To(false), Percent: ptr.To[int64](10), Tag: "old"},
			}},
		},
	}
}

func serviceRef() metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "hello", UID: "svc-uid",
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
}

func TestMakeConfiguration(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing *v1.Configuration
		want     *v1.Configuration
	}{{
		name: "new",
		want: &v1.Configuration{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: "ns", Name: "hello", OwnerReferences: []metav1.OwnerReference{serviceRef()},
				Labels: map[string]string{"team": "a", serving.ServiceLabelKey: "hello", serving.ServiceUIDLabelKey: "svc-uid"},
				Annotations: map[string]string{serving.CreatorAnnotation: "alice", "note": "n",
					serving.RoutesAnnotationKey: "hello"},
			},
			Spec: service().Spec.ConfigurationSpec,
		},
	}, {
		name: "existing routes kept, stale metadata dropped",
		existing: &v1.Configuration{ObjectMeta: metav1.ObjectMeta{
			Labels:      map[string]string{"stale": "x"},
			Annotations: map[string]string{serving.RoutesAnnotationKey: "other,hello", "stale": "x"},
		}},
		want: &v1.Configuration{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: "ns", Name: "hello", OwnerReferences: []metav1.OwnerReference{serviceRef()},
				Labels: map[string]string{"team": "a", serving.ServiceLabelKey: "hello", serving.ServiceUIDLabelKey: "svc-uid"},
				Annotations: map[string]string{serving.CreatorAnnotation: "alice", "note": "n",
					serving.RoutesAnnotationKey: "hello,other"},
			},
			Spec: service().Spec.ConfigurationSpec,
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, MakeConfiguration(service(), tc.existing)); diff != "" {
				t.Errorf("MakeConfiguration (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMakeRoute(t *testing.T) {
	want := &v1.Route{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "ns", Name: "hello", OwnerReferences: []metav1.OwnerReference{serviceRef()},
			Labels: map[string]string{"team": "a", serving.ServiceLabelKey: "hello"},
			Annotations: map[string]string{"serving.knative.dev/rollout-duration": "60s",
				serving.CreatorAnnotation: "alice", "note": "n"},
			Finalizers: []string{names.RouteFinalizer},
		},
		Spec: v1.RouteSpec{Traffic: []v1.TrafficTarget{
			{ConfigurationName: "hello", LatestRevision: ptr.To(true), Percent: ptr.To[int64](90)},
			{RevisionName: "hello-00001", LatestRevision: ptr.To(false), Percent: ptr.To[int64](10), Tag: "old"},
		}},
	}
	if diff := cmp.Diff(want, MakeRoute(service())); diff != "" {
		t.Errorf("MakeRoute (-want +got):\n%s", diff)
	}
}

func TestRouteCaughtUp(t *testing.T) {
	cfg := &v1.Configuration{ObjectMeta: metav1.ObjectMeta{Name: "hello"}}
	cfg.Status.LatestReadyRevisionName = "hello-00002"
	route := MakeRoute(service())
	for _, tc := range []struct {
		name   string
		status []v1.TrafficTarget
		want   bool
	}{{
		name: "matches, URL and latestRevision ignored",
		status: []v1.TrafficTarget{
			{RevisionName: "hello-00002", LatestRevision: ptr.To(true), Percent: ptr.To[int64](90)},
			{RevisionName: "hello-00001", Percent: ptr.To[int64](10), Tag: "old"},
		},
		want: true,
	}, {
		name: "still on the previous latest",
		status: []v1.TrafficTarget{
			{RevisionName: "hello-00001", Percent: ptr.To[int64](90)},
			{RevisionName: "hello-00001", Percent: ptr.To[int64](10), Tag: "old"},
		},
	}, {
		name:   "length differs",
		status: []v1.TrafficTarget{{RevisionName: "hello-00002", Percent: ptr.To[int64](100)}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r := route.DeepCopy()
			r.Status.Traffic = tc.status
			if got := RouteCaughtUp(cfg, r); got != tc.want {
				t.Errorf("RouteCaughtUp = %v, want %v", got, tc.want)
			}
		})
	}
}
